/**
 * The conformance harness: each test file declares its checklist items once and they run against
 * our emulator and, when gcloud is installed, against Google's. Every item is one test named
 * "item N: …" that asserts the documented rule of ../shared/PUBSUB-BEHAVIOUR.md Section 1. Against
 * Google's emulator, the items it is known to fail (google-deviations.ts) run as `todo`, and slow
 * timing items run only with PUBSUB_REFERENCE_FULL=1. Outcomes per target are written to
 * .tmp/pubsub-conformance/<target>.json and summarised on stdout.
 *
 *   PUBSUB_CONFORMANCE_TARGETS=ours   run against ours only (default: ours,google)
 */
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { PubSub, v1, type ClientConfig } from '@google-cloud/pubsub';
import {
  startPubSubEmulator,
  type PubSubEmulator,
  type PubSubEmulatorOptions,
} from '../../../local/pubsub-emulator/index.ts';
import {
  googleEmulatorAvailable,
  startGoogleEmulator,
  type GoogleEmulator,
} from '../../helpers/pubsub-google.ts';
import { GOOGLE_EMULATOR_DEVIATIONS } from './google-deviations.ts';

// No probe of the GCE metadata server for credentials or a project id (item 6).
process.env.METADATA_SERVER_DETECTION = 'none';

export type TargetName = 'ours' | 'google';
export const PROJECT = 'conformance';
const RESULTS_DIR = path.join('.tmp', 'pubsub-conformance');
const FULL_REFERENCE = process.env.PUBSUB_REFERENCE_FULL === '1';

export interface Conformance {
  readonly target: TargetName;
  readonly address: string;
  /** Our emulator's handle (JWKS, …); undefined against Google's. */
  readonly emulator: PubSubEmulator | undefined;
  /** A client for the target, closed after the file. */
  readonly pubsub: PubSub;
  /** Another client, closed after the file. */
  client(options?: ClientConfig): PubSub;
  /** A unique, valid resource id for this run. */
  id(label: string): string;
  topicPath(id: string): string;
  subscriptionPath(id: string): string;
  snapshotPath(id: string): string;
  publisherClient(): Promise<v1.PublisherClient>;
  subscriberClient(): Promise<v1.SubscriberClient>;
}

export interface ItemOptions {
  /** Timing-heavy (≥ ~10 s): against Google's emulator only with PUBSUB_REFERENCE_FULL=1. */
  slow?: boolean;
  timeout?: number;
  /** Needs a setting only ours has; the reason is shown for Google's. */
  oursOnly?: string;
  /** Not something an emulator of the Pub/Sub API does; skipped everywhere with this reason. */
  notApplicable?: string;
}

export type ItemBody = (t: TestContext) => Promise<void>;
export type Item = (number: number, title: string, body: ItemBody, options?: ItemOptions) => void;

interface Outcome {
  item: number;
  title: string;
  status: 'pass' | 'fail' | 'skipped';
  knownDeviation?: string;
  error?: string;
  ms?: number;
}

function wantedTargets(): TargetName[] {
  const listed = (process.env.PUBSUB_CONFORMANCE_TARGETS ?? 'ours,google').split(',').map((s) => s.trim());
  return (['ours', 'google'] as const).filter((target) => listed.includes(target));
}

const runId = process.env.CONVEYOR_TEST_RUN_ID ?? `local-${process.pid}`;
let counter = 0;

/** Declares one file's checklist items, for every target. */
export function conformanceSuite(
  file: string,
  title: string,
  define: (ctx: Conformance, item: Item) => void,
  options: { emulator?: PubSubEmulatorOptions } = {},
): void {
  for (const target of wantedTargets()) {
    const unavailable =
      target === 'google' && !googleEmulatorAvailable()
        ? "Google's Pub/Sub emulator is not installed (gcloud beta emulators pubsub): skipped"
        : false;
    describe(`${title} [${target}]`, { concurrency: true, skip: unavailable }, () => {
      let ours: PubSubEmulator | undefined;
      let google: GoogleEmulator | undefined;
      let address = '';
      let shared: PubSub | undefined;
      const clients: { close(): Promise<void> }[] = [];
      const outcomes: Outcome[] = [];

      const ctx: Conformance = {
        target,
        get address() {
          return address;
        },
        get emulator() {
          return ours;
        },
        get pubsub() {
          shared ??= ctx.client();
          return shared;
        },
        client(clientOptions = {}) {
          const client = new PubSub({ projectId: PROJECT, apiEndpoint: address, ...clientOptions });
          clients.push(client);
          return client;
        },
        id(label) {
          return `${label}-${runId}-${process.pid}-${++counter}`.replace(/[^A-Za-z0-9-_.~+%]/g, '-');
        },
        topicPath: (id) => `projects/${PROJECT}/topics/${id}`,
        subscriptionPath: (id) => `projects/${PROJECT}/subscriptions/${id}`,
        snapshotPath: (id) => `projects/${PROJECT}/snapshots/${id}`,
        async publisherClient() {
          const config = (await ctx.pubsub.getClientConfig()) as ConstructorParameters<
            typeof v1.PublisherClient
          >[0];
          const client = new v1.PublisherClient(config);
          clients.push(client);
          return client;
        },
        async subscriberClient() {
          const config = (await ctx.pubsub.getClientConfig()) as ConstructorParameters<
            typeof v1.SubscriberClient
          >[0];
          const client = new v1.SubscriberClient(config);
          clients.push(client);
          return client;
        },
      };

      before(async () => {
        if (target === 'ours') {
          ours = await startPubSubEmulator({ host: '127.0.0.1', port: 0, ...options.emulator });
          address = ours.address;
        } else {
          google = await startGoogleEmulator(PROJECT);
          address = google.address;
        }
      });

      after(async () => {
        for (const client of clients.splice(0)) await client.close().catch(() => {});
        await ours?.stop();
        await google?.stop();
        await writeOutcomes(file, target, outcomes);
      });

      const item: Item = (number, itemTitle, body, itemOptions = {}) => {
        const deviation = target === 'google' ? GOOGLE_EMULATOR_DEVIATIONS[number] : undefined;
        const skip = itemOptions.notApplicable
          ? itemOptions.notApplicable
          : target === 'google' && itemOptions.oursOnly
            ? itemOptions.oursOnly
            : target === 'google' && itemOptions.slow && !FULL_REFERENCE
              ? 'slow timing item: runs against Google’s emulator only with PUBSUB_REFERENCE_FULL=1'
              : false;
        const name = `item ${number}: ${itemTitle}`;
        it(
          name,
          {
            skip,
            ...(deviation ? { todo: `known deviation of Google's emulator: ${deviation}` } : {}),
            timeout: itemOptions.timeout ?? 60_000,
          },
          async (t) => {
            const started = performance.now();
            const outcome: Outcome = { item: number, title: itemTitle, status: 'pass' };
            if (deviation) outcome.knownDeviation = deviation;
            outcomes.push(outcome);
            try {
              await body(t);
            } catch (error) {
              outcome.status = 'fail';
              outcome.error = error instanceof Error ? error.message.split('\n')[0] : String(error);
              // A known deviation of the reference peer is expected to fail: it is reported on one
              // line (and in the outcomes file), not as a failure whose stack buries real ones.
              if (deviation) return t.diagnostic(`as known, Google's emulator fails this: ${outcome.error}`);
              throw error;
            } finally {
              outcome.ms = Math.round(performance.now() - started);
            }
          },
        );
        if (skip) outcomes.push({ item: number, title: itemTitle, status: 'skipped', error: skip });
      };

      define(ctx, item);
    });
  }
}

/** Writes this file's outcomes, merges every file of this run into <target>.json, prints a summary. */
async function writeOutcomes(file: string, target: TargetName, outcomes: Outcome[]): Promise<void> {
  const dir = path.join(RESULTS_DIR, target);
  await mkdir(dir, { recursive: true });
  const base = path.basename(file).replace(/\.test\.ts$/, '');
  const sorted = [...outcomes].sort((a, b) => a.item - b.item);
  await writeFile(
    path.join(dir, `${base}.json`),
    JSON.stringify({ runId, file: base, outcomes: sorted }, null, 2),
  );

  const merged: (Outcome & { file: string })[] = [];
  for (const entry of await readdir(dir)) {
    if (!entry.endsWith('.json')) continue;
    const content = JSON.parse(await readFile(path.join(dir, entry), 'utf8')) as {
      runId: string;
      file: string;
      outcomes: Outcome[];
    };
    if (content.runId !== runId) continue;
    for (const outcome of content.outcomes) merged.push({ ...outcome, file: content.file });
  }
  merged.sort((a, b) => a.item - b.item);
  const summary = {
    target,
    runId,
    passed: merged.filter((o) => o.status === 'pass').map((o) => o.item),
    failed: merged.filter((o) => o.status === 'fail').map((o) => o.item),
    skipped: merged.filter((o) => o.status === 'skipped').map((o) => o.item),
    items: merged,
  };
  const out = path.join(RESULTS_DIR, `${target}.json`);
  await writeFile(`${out}.${process.pid}`, `${JSON.stringify(summary, null, 2)}\n`);
  await rename(`${out}.${process.pid}`, out);

  const line = (label: string, items: Outcome[]) =>
    items.length > 0 ? `\n  ${label}: ${items.map((o) => o.item).join(', ')}` : '';
  const known = sorted.filter((o) => o.status === 'fail' && o.knownDeviation);
  const unexpected = sorted.filter((o) => o.status === 'fail' && !o.knownDeviation);
  const fixed = sorted.filter((o) => o.status === 'pass' && o.knownDeviation);
  console.log(
    `pubsub conformance [${target}] ${base}: ${sorted.filter((o) => o.status === 'pass').length} passed, ` +
      `${sorted.filter((o) => o.status === 'fail').length} failed, ${sorted.filter((o) => o.status === 'skipped').length} skipped` +
      line('failed (known deviation)', known) +
      line('failed (unexpected)', unexpected) +
      line('passed although listed as a deviation', fixed) +
      line(
        'skipped',
        sorted.filter((o) => o.status === 'skipped'),
      ) +
      `\n  all files so far: ${out}`,
  );
}
