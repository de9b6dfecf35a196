/**
 * random_password from the hashicorp/random provider, declared by hand: there is no prebuilt
 * cdktf binding for it in this repository, and it is the one resource we need from it. Terraform
 * downloads the provider at `init`, as it does the google provider.
 *
 * The result is marked sensitive by the provider but is kept in state: the state bucket must be
 * as private as the database (see infra/README.md).
 */
import { TerraformProvider, TerraformResource } from 'cdktf';
import type { Construct } from 'constructs';

const GENERATOR = { providerName: 'random', providerVersionConstraint: '~> 3.6' } as const;

export class RandomProvider extends TerraformProvider {
  constructor(scope: Construct, id: string) {
    super(scope, id, {
      terraformResourceType: 'random',
      terraformGeneratorMetadata: GENERATOR,
      terraformProviderSource: 'hashicorp/random',
    });
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    return {};
  }
}

export interface RandomPasswordConfig {
  length: number;
  /** Punctuation makes a password awkward inside a connection URL; length gives the entropy. */
  special: boolean;
}

export class RandomPassword extends TerraformResource {
  private readonly settings: RandomPasswordConfig;

  constructor(scope: Construct, id: string, config: RandomPasswordConfig) {
    super(scope, id, { terraformResourceType: 'random_password', terraformGeneratorMetadata: GENERATOR });
    this.settings = config;
  }

  /** The generated password (a Terraform reference, resolved at apply). */
  get result(): string {
    return this.getStringAttribute('result');
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    return { length: this.settings.length, special: this.settings.special };
  }
}
