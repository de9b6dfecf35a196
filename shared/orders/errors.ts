import { ConflictError } from '#shared/errors.ts';

/**
 * The caller made its command conditional on versions of the order (HTTP If-Match) and the order
 * is at another one. Not retried: the caller has to look at the order again.
 */
export class VersionMismatchError extends ConflictError {
  readonly orderId: string;
  readonly expected: readonly number[];
  readonly actual: number | undefined;

  constructor(orderId: string, expected: readonly number[], actual: number | undefined) {
    super(
      `order ${orderId} is at version ${actual ?? 'none'}, not ${expected.join(' or ') || 'the one expected'}`,
    );
    this.orderId = orderId;
    this.expected = expected;
    this.actual = actual;
  }
}
