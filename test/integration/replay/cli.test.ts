/**
 * The operator CLI as operators run it (`node local/cli/main.ts …`, `npx conveyor …` through the
 * bin shim) against a listening API that runs replays into the Pub/Sub emulator: the replay
 * command's JSON output and exit codes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { PubSub } from '@google-cloud/pubsub';
import { buildApp } from '../../../api/app.ts';
import { ensureTopology } from '../../../local/launcher/topology.ts';
import type { PubSubEmulator } from '../../../local/pubsub-emulator/index.ts';
import { ATTRIBUTE } from '#shared/contracts/envelope.ts';
import { createLogger } from '#shared/logging/index.ts';
import { createPubSubPublisher, type Publisher } from '#shared/messaging/publisher.ts';
import { createApiKey } from '#shared/store/api-keys.ts';
import { outboxStats } from '#shared/store/outbox.ts';
import { generateHistory, storeHistory } from '../../fixtures/order-history.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/database.ts';
import { PROJECT_ID, pubsubClient, startEmulator } from '../../helpers/pubsub.ts';
import { waitUntil } from '../../helpers/wait.ts';
import { startPushRecorder, type PushRecorder } from './push-recorder.ts';
import { runCli } from './run-cli.ts';

const history = generateHistory({ orders: 30, days: 2 });

describe('conveyor replay (the CLI)', () => {
  let db: TestDatabase;
  let emulator: PubSubEmulator;
  let pubsub: PubSub;
  let publisher: Publisher;
  let recorder: PushRecorder;
  let app: FastifyInstance;
  let env: Record<string, string>;

  before(async () => {
    db = await createTestDatabase();
    await storeHistory(db.pool, history);
    emulator = await startEmulator();
    pubsub = pubsubClient(emulator.address);
    recorder = await startPushRecorder();
    await ensureTopology({ pubsub, endpoints: { analytics: recorder.endpoint('analytics') } });
    publisher = createPubSubPublisher({ projectId: PROJECT_ID, emulatorHost: emulator.address });
    app = await buildApp({
      pool: db.pool,
      relay: { trigger: () => {}, stats: () => outboxStats(db.pool) },
      logger: createLogger({ service: 'cli-test', level: 'silent' }),
      publisher,
      settings: { rateLimitPerMinute: 100_000, projectId: PROJECT_ID },
    });
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    const key = (await createApiKey(db.pool, { name: 'ops', scopes: ['admin'] })).key;
    env = { CONVEYOR_API_URL: url, CONVEYOR_API_KEY: key };
  });

  after(async () => {
    await app.close();
    await publisher.close();
    await pubsub.close();
    await emulator.stop();
    await recorder.close();
    await db.drop();
  });

  it('starts a replay, follows it to the end and prints it as JSON (exit 0)', async () => {
    const { code, stdout, stderr } = await runCli(
      [
        'replay',
        '--from',
        '2024-03-01',
        '--to',
        '2024-03-02',
        '--consumer',
        'analytics',
        '--json',
        '--poll-ms',
        '100',
      ],
      env,
    );
    assert.equal(code, 0, stderr);
    const replay = JSON.parse(stdout) as {
      id: string;
      status: string;
      progress: { published: number; total: number };
    };
    const expected = history.filter((event) => event.time < '2024-03-02T00:00:00.000Z');
    assert.equal(replay.status, 'completed');
    assert.deepEqual([replay.progress.published, replay.progress.total], [expected.length, expected.length]);
    await waitUntil(
      () =>
        new Set(
          recorder.received.filter((p) => p.attributes[ATTRIBUTE.replay] === replay.id).map((p) => p.eventId),
        ).size === expected.length,
      { what: 'the replayed events at analytics-replay' },
    );
  });

  it('prints progress and a summary for people, and follows an existing replay with --id', async () => {
    const started = await runCli(['replay', '--from', '2024-03-02', '--to', '2024-03-03', '--no-wait'], env);
    assert.equal(started.code, 0, started.stderr);
    const id = /replay ([0-9a-f-]{36}) accepted/.exec(started.stderr)?.[1];
    assert.ok(id, started.stderr);
    const followed = await runCli(['replay', '--id', id, '--poll-ms', '100'], env);
    assert.equal(followed.code, 0, followed.stderr);
    assert.match(followed.stdout, new RegExp(`replay ${id} completed: \\d+/\\d+ events to analytics`));
  });

  it('exits 2 for a request the API refuses or bad arguments, 3 when the API is unreachable', async () => {
    const refused = await runCli(
      ['replay', '--from', '2024-03-01', '--to', '2024-03-02', '--types', 'order.exploded.v1'],
      env,
    );
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /POST \/v1\/replays: 400 .*body\.types/s);
    const badTime = await runCli(['replay', '--from', 'yesterday', '--to', '2024-03-02'], env);
    assert.equal(badTime.code, 2);
    assert.match(badTime.stderr, /--from: expected a date/);
    const badConsumer = await runCli(
      ['replay', '--from', '2024-03-01', '--to', '2024-03-02', '--consumer', 'ingest'],
      env,
    );
    assert.equal(badConsumer.code, 2);
    const unreachable = await runCli(['replay', '--from', '2024-03-01', '--to', '2024-03-02'], {
      ...env,
      CONVEYOR_API_URL: 'http://127.0.0.1:9',
    });
    assert.equal(unreachable.code, 3);
    assert.match(unreachable.stderr, /cannot reach the API/);
  });

  it('the bin shim (npx conveyor) runs the CLI, also when started by an older node', async () => {
    const help = await runCli(['--help'], {}, 'local/cli/bin.js');
    assert.equal(help.code, 0);
    assert.match(help.stdout, /replay \[options\]/);
    const missing = await runCli(
      ['replay', '--from', '2024-03-01', '--to', '2024-03-02'],
      { CONVEYOR_API_URL: '' },
      'local/cli/bin.js',
      '/usr/bin/node',
    );
    if (missing.stderr.includes('ENOENT')) return; // no system node here
    assert.equal(missing.code, 2, missing.stderr);
    assert.match(missing.stderr, /CONVEYOR_API_URL is not set/);
  });
});
