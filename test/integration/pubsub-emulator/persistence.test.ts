/**
 * Our emulator's --data-dir: topics, subscriptions and unacked messages survive a stop and a crash
 * (SIGKILL), acked ones do not come back, ids stay unique, the OIDC key stays the same, and a torn
 * journal line or an old journal does not spoil the restore. Ours only: Google's emulator keeps
 * everything in memory.
 */
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PubSub, v1 } from '@google-cloud/pubsub';
import { startPubSubEmulator, type PubSubEmulator } from '../../../local/pubsub-emulator/index.ts';
import { startProcess, type ManagedProcess } from '../../helpers/processes.ts';
import { waitUntil } from './support.ts';

process.env.METADATA_SERVER_DETECTION = 'none';

const PROJECT = 'persist';
const READY = /Pub\/Sub emulator listening on (\S+)/;

interface Clients {
  pubsub: PubSub;
  subscriber: v1.SubscriberClient;
  close(): Promise<void>;
}

async function clientsFor(address: string): Promise<Clients> {
  const pubsub = new PubSub({ projectId: PROJECT, apiEndpoint: address });
  const subscriber = new v1.SubscriberClient(
    (await pubsub.getClientConfig()) as ConstructorParameters<typeof v1.SubscriberClient>[0],
  );
  return {
    pubsub,
    subscriber,
    async close() {
      await subscriber.close();
      await pubsub.close();
    },
  };
}

const subscriptionPath = (id: string) => `projects/${PROJECT}/subscriptions/${id}`;

/** Pulls until `count` messages arrived (unary Pull); returns them in arrival order. */
async function pullAll(clients: Clients, subscription: string, count: number) {
  const received: { ackId: string; id: string; data: string; key: string; attributes: object }[] = [];
  await waitUntil(
    async () => {
      const [response] = await clients.subscriber.pull({
        subscription: subscriptionPath(subscription),
        maxMessages: 100,
        returnImmediately: true,
      });
      for (const item of response.receivedMessages ?? []) {
        received.push({
          ackId: item.ackId!,
          id: item.message!.messageId!,
          data: Buffer.from(item.message!.data!).toString(),
          key: item.message!.orderingKey ?? '',
          attributes: { ...item.message!.attributes },
        });
      }
      return received.length >= count;
    },
    `${count} messages on ${subscription}`,
    10_000,
  );
  return received;
}

async function ack(clients: Clients, subscription: string, ackIds: string[]): Promise<void> {
  await clients.subscriber.acknowledge({ subscription: subscriptionPath(subscription), ackIds });
}

async function publish(
  pubsub: PubSub,
  topic: string,
  messages: { data: string; key?: string; attributes?: Record<string, string> }[],
): Promise<string[]> {
  const ids: string[] = [];
  for (const message of messages) {
    const publisher = pubsub.topic(topic, { messageOrdering: Boolean(message.key) });
    ids.push(
      await publisher.publishMessage({
        data: Buffer.from(message.data),
        ...(message.key ? { orderingKey: message.key } : {}),
        ...(message.attributes ? { attributes: message.attributes } : {}),
      }),
    );
  }
  return ids;
}

describe('Pub/Sub emulator persistence (--data-dir)', () => {
  let root: string;
  before(async () => (root = await mkdtemp(path.join(os.tmpdir(), 'pubsub-persist-'))));
  after(() => rm(root, { recursive: true, force: true }));

  it('keeps topics, subscriptions and unacked messages across a stop; acked ones stay acked', async () => {
    const dir = path.join(root, 'stop');
    let emulator: PubSubEmulator | undefined = await startPubSubEmulator({
      port: 0,
      dataDir: dir,
      log: () => {},
    });
    let clients = await clientsFor(emulator.address);
    try {
      await clients.pubsub.createTopic('orders');
      await clients.pubsub.createTopic('orders-dead');
      await clients.pubsub.topic('orders').createSubscription('plain', {
        deadLetterPolicy: {
          deadLetterTopic: `projects/${PROJECT}/topics/orders-dead`,
          maxDeliveryAttempts: 5,
        },
      });
      await clients.pubsub.topic('orders').createSubscription('ordered', { enableMessageOrdering: true });
      await clients.pubsub
        .topic('orders')
        .createSubscription('only-blue', { filter: 'attributes.colour = "blue"' });
      const ids = await publish(clients.pubsub, 'orders', [
        { data: 'm0', key: 'k' },
        { data: 'm1', key: 'k', attributes: { colour: 'blue' } },
        { data: 'm2', key: 'k' },
        { data: 'm3' },
        { data: 'm4', attributes: { colour: 'blue' } },
      ]);

      // "plain": m0 and m3 acked, the rest delivered but not acked (leased at the stop).
      const plain = await pullAll(clients, 'plain', 5);
      await ack(
        clients,
        'plain',
        plain.filter((m) => ['m0', 'm3'].includes(m.data)).map((m) => m.ackId),
      );
      await waitUntil(() => emulator!.stats().subscriptionMessages === 3 + 5 + 2, 'the acks to land');
      await clients.close();
      await emulator.stop();
      emulator = undefined;

      emulator = await startPubSubEmulator({ port: 0, dataDir: dir, log: () => {} });
      clients = await clientsFor(emulator.address);
      assert.deepEqual(
        { ...emulator.stats(), streams: 0 },
        {
          topics: 2,
          subscriptions: 3,
          snapshots: 0,
          subscriptionMessages: 10,
          retainedMessages: 0,
          streams: 0,
        },
      );
      const [subscription] = await clients.pubsub.subscription('plain').getMetadata();
      assert.equal(subscription.deadLetterPolicy?.maxDeliveryAttempts, 5, 'configuration restored');

      const again = await pullAll(clients, 'plain', 3);
      assert.deepEqual(again.map((m) => m.data).sort(), ['m1', 'm2', 'm4']);
      for (const message of again)
        assert.equal(message.id, ids[Number(message.data[1])], 'same message id as published');
      assert.deepEqual(again.find((m) => m.data === 'm1')?.attributes, { colour: 'blue' });

      const ordered = await pullAll(clients, 'ordered', 5);
      assert.deepEqual(
        ordered.filter((m) => m.key === 'k').map((m) => m.data),
        ['m0', 'm1', 'm2'],
        'one key, in publish order',
      );
      const blue = await pullAll(clients, 'only-blue', 2);
      assert.deepEqual(blue.map((m) => m.data).sort(), ['m1', 'm4'], 'the filter still applies');

      const [fresh] = await publish(clients.pubsub, 'orders', [{ data: 'm5' }]);
      assert.ok(!ids.includes(fresh!), 'a new message gets a new id');
    } finally {
      await clients.close();
      await emulator?.stop();
    }
  });

  it('loses no published message when the process is killed (SIGKILL), and keeps its OIDC key', async () => {
    const dir = path.join(root, 'crash');
    const jwks = (n: number) => path.join(root, `jwks-${n}.json`);
    const start = (n: number) =>
      startProcess(process.execPath, [
        'local/pubsub-emulator/main.ts',
        '--port',
        '0',
        '--data-dir',
        dir,
        '--jwks-out',
        jwks(n),
      ]);
    let child: ManagedProcess = start(1);
    let clients: Clients | undefined;
    try {
      const [, address] = await child.waitFor(READY);
      clients = await clientsFor(address!);
      await clients.pubsub.createTopic('events');
      await clients.pubsub.topic('events').createSubscription('consumer');
      const ids = await publish(
        clients.pubsub,
        'events',
        Array.from({ length: 20 }, (_, i) => ({ data: `e${i}` })),
      );
      const first = await pullAll(clients, 'consumer', 20);
      await ack(
        clients,
        'consumer',
        first.filter((m) => Number(m.data.slice(1)) < 5).map((m) => m.ackId),
      );
      // The acks are in the journal once a "done" line names them.
      await waitUntil(
        async () => (await readFile(path.join(dir, 'journal.ndjson'), 'utf8')).includes('"t":"g"'),
        'the acks in the journal',
      );
      await clients.close();
      clients = undefined;
      await child.kill();
      // A crash in the middle of a write leaves a torn last line.
      await appendFile(path.join(dir, 'journal.ndjson'), '{"t":"p","topic":"projects/persist/top');

      child = start(2);
      const [, again] = await child.waitFor(READY);
      clients = await clientsFor(again!);
      const back = await pullAll(clients, 'consumer', 15);
      assert.deepEqual(
        back.map((m) => m.data).sort(),
        Array.from({ length: 15 }, (_, i) => `e${i + 5}`).sort(),
      );
      assert.deepEqual(back.map((m) => m.id).sort(), ids.slice(5).sort());
      assert.deepEqual(
        JSON.parse(await readFile(jwks(2), 'utf8')),
        JSON.parse(await readFile(jwks(1), 'utf8')),
        'push tokens stay verifiable with the JWKS written before the crash',
      );
      assert.match(child.output(), /restored 1 topics, 1 subscriptions and 15 unacked/);
    } finally {
      await clients?.close();
      await child.stop();
    }
  });

  it('compacts the journal into a checkpoint as it grows, and restores from both', async () => {
    const dir = path.join(root, 'compact');
    let emulator: PubSubEmulator | undefined = await startPubSubEmulator({
      port: 0,
      dataDir: dir,
      checkpointBytes: 4_096,
      log: () => {},
    });
    let clients = await clientsFor(emulator.address);
    try {
      await clients.pubsub.createTopic('big');
      await clients.pubsub.topic('big').createSubscription('reader');
      const checkpointBefore = (await stat(path.join(dir, 'state.json'))).mtimeMs;
      await publish(
        clients.pubsub,
        'big',
        Array.from({ length: 60 }, (_, i) => ({ data: `${i}`.padStart(200, '.') })),
      );
      const journal = (await stat(path.join(dir, 'journal.ndjson'))).size;
      assert.ok(journal < 4_096 + 1_000, `the journal was compacted (${journal} bytes)`);
      assert.ok((await stat(path.join(dir, 'state.json'))).mtimeMs >= checkpointBefore);
      await clients.close();
      // Not stopped: as after a crash, the checkpoint and the journal after it hold everything.
      const state = await readFile(path.join(dir, 'state.json'), 'utf8');
      const journalText = await readFile(path.join(dir, 'journal.ndjson'), 'utf8');
      await emulator.stop();
      emulator = undefined;
      await writeFile(path.join(dir, 'state.json'), state);
      await writeFile(path.join(dir, 'journal.ndjson'), journalText);

      emulator = await startPubSubEmulator({ port: 0, dataDir: dir, log: () => {} });
      clients = await clientsFor(emulator.address);
      const all = await pullAll(clients, 'reader', 60);
      assert.equal(new Set(all.map((m) => m.data)).size, 60);
    } finally {
      await clients.close();
      await emulator?.stop();
    }
  });

  it('does not apply a journal older than the checkpoint', async () => {
    const dir = path.join(root, 'generations');
    let emulator: PubSubEmulator | undefined = await startPubSubEmulator({
      port: 0,
      dataDir: dir,
      log: () => {},
    });
    let clients = await clientsFor(emulator.address);
    try {
      await clients.pubsub.createTopic('t-old');
      await clients.pubsub.topic('t-old').createSubscription('s-old');
      await publish(clients.pubsub, 't-old', [{ data: 'before' }]);
      const oldJournal = await readFile(path.join(dir, 'journal.ndjson'), 'utf8');
      // A new subscription writes a checkpoint of a new generation; then the old journal is put
      // back, as if the process died between the checkpoint and emptying the journal.
      await clients.pubsub.topic('t-old').createSubscription('s-new');
      await clients.close();
      await emulator.stop();
      emulator = undefined;
      await writeFile(path.join(dir, 'journal.ndjson'), oldJournal);

      emulator = await startPubSubEmulator({ port: 0, dataDir: dir, log: () => {} });
      clients = await clientsFor(emulator.address);
      assert.equal(emulator.stats().subscriptionMessages, 1, 'only s-old holds the message');
      assert.deepEqual(
        (await pullAll(clients, 's-old', 1)).map((m) => m.data),
        ['before'],
      );
    } finally {
      await clients.close();
      await emulator?.stop();
    }
  });
});
