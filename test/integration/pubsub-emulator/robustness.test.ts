/**
 * Our emulator only (not checklist items): malformed requests fail their call and nothing else,
 * a subscription keeps delivering after bad calls, and memory does not grow under sustained
 * publish + ack.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { credentials, Client, Metadata, type ClientDuplexStream, type MethodDefinition } from '@grpc/grpc-js';
import { PubSub, SchemaTypes, v1, type Message } from '@google-cloud/pubsub';
import fc from 'fast-check';
import { startPubSubEmulator, type PubSubEmulator } from '../../../local/pubsub-emulator/index.ts';
import { loadServiceDefinitions } from '../../../local/pubsub-emulator/protos.ts';
import { waitUntil } from './support.ts';

process.env.METADATA_SERVER_DETECTION = 'none';

const definitions = loadServiceDefinitions();
const methods = Object.values(definitions).flatMap((service) =>
  Object.values(service as Record<string, MethodDefinition<unknown, unknown>>).map((method) => ({
    path: method.path,
    streaming: method.requestStream,
  })),
);

describe('Pub/Sub emulator robustness', () => {
  let emulator: PubSubEmulator;
  let pubsub: PubSub;
  let raw: Client;

  before(async () => {
    emulator = await startPubSubEmulator({ host: '127.0.0.1', port: 0 });
    pubsub = new PubSub({ projectId: 'robust', apiEndpoint: emulator.address });
    raw = new Client(emulator.address, credentials.createInsecure());
  });

  after(async () => {
    raw.close();
    await pubsub.close();
    await emulator.stop();
  });

  const call = (path: string, payload: Buffer) =>
    new Promise<number>((resolve) => {
      raw.makeUnaryRequest(
        path,
        (b: Buffer) => b,
        (b: Buffer) => b,
        payload,
        { deadline: Date.now() + 5000 },
        (error) => resolve(error?.code ?? 0),
      );
    });

  const stream = (path: string, payloads: Buffer[]) =>
    new Promise<number>((resolve) => {
      const duplex: ClientDuplexStream<Buffer, Buffer> = raw.makeBidiStreamRequest(
        path,
        (b: Buffer) => b,
        (b: Buffer) => b,
        new Metadata(),
        { deadline: Date.now() + 5000 },
      );
      duplex.on('data', () => {});
      duplex.on('error', () => {});
      duplex.on('status', (status: { code: number }) => resolve(status.code));
      for (const payload of payloads) duplex.write(payload);
      setTimeout(() => duplex.cancel(), 300);
    });

  it('answers random bytes sent to every method with a status, and keeps serving', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...methods),
        fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 3 }),
        async (method, payloads) => {
          const buffers = payloads.map((p) => Buffer.from(p));
          const code = method.streaming
            ? await stream(method.path, buffers)
            : await call(method.path, buffers[0]!);
          assert.equal(typeof code, 'number');
        },
      ),
      { numRuns: 300 },
    );
    const [topic] = await pubsub.createTopic('still-alive');
    assert.ok(topic.name.endsWith('still-alive'));
  });

  it('keeps delivering after malformed acks, modacks and stream requests', async () => {
    const [topic] = await pubsub.createTopic('wedge');
    const [subscription] = await topic.createSubscription('wedge-sub', { enableMessageOrdering: true });
    const subscriber = new v1.SubscriberClient(
      (await pubsub.getClientConfig()) as ConstructorParameters<typeof v1.SubscriberClient>[0],
    );
    const bad = [
      () => subscriber.acknowledge({ subscription: subscription.name, ackIds: ['x', '1-2-3', ''] }),
      () =>
        subscriber.modifyAckDeadline({
          subscription: subscription.name,
          ackIds: ['zz-zz-zz'],
          ackDeadlineSeconds: 1e9,
        }),
      () => subscriber.pull({ subscription: subscription.name, maxMessages: -5 }),
      () => subscriber.seek({ subscription: subscription.name, time: { seconds: Number.MAX_SAFE_INTEGER } }),
      () =>
        subscriber.updateSubscription({
          subscription: { name: subscription.name },
          updateMask: { paths: ['..', 'nope'] },
        }),
    ];
    for (const request of bad) await request().catch(() => {});
    await topic.publishMessage({ data: Buffer.from('still flowing'), orderingKey: 'k' });
    const got: string[] = [];
    subscription.on('message', (message: Message) => {
      got.push(message.data.toString());
      message.ack();
    });
    await waitUntil(() => got.length > 0, 'a delivery after bad requests');
    await subscription.close();
    await subscriber.close();
    assert.deepEqual(got, ['still flowing']);
  });

  it("serves the client's schema API", async () => {
    const definition = JSON.stringify({
      type: 'record',
      name: 'Order',
      fields: [{ name: 'id', type: 'string' }],
    });
    const schema = await pubsub.createSchema('order-schema', SchemaTypes.Avro, definition);
    const got = await schema.get();
    assert.equal(got.type, 'AVRO');
    assert.equal(got.definition, definition);
    const listed: string[] = [];
    for await (const s of pubsub.listSchemas()) listed.push(s.name ?? '');
    assert.ok(listed.includes(await schema.getName()));
    await pubsub.validateSchema({ type: SchemaTypes.Avro, definition });
    await assert.rejects(pubsub.validateSchema({ type: SchemaTypes.Avro, definition: '{not json' }));
    // The client sends `message` (a bytes field) as given: base64 text.
    await schema.validateMessage(Buffer.from(JSON.stringify({ id: '1' })).toString('base64'), 'JSON');
    await schema.delete();
    await assert.rejects(schema.get(), (error: { code?: number }) => error.code === 5);
  });

  it('frees acked messages: memory stays flat under sustained publish and ack', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const [topic] = await pubsub.createTopic('soak');
    const [subscription] = await topic.createSubscription('soak-sub');
    let received = 0;
    subscription.on('message', (message: Message) => {
      received++;
      message.ack();
    });
    const round = async (count: number) => {
      const target = received + count;
      await Promise.all(
        Array.from({ length: count }, () => topic.publishMessage({ data: Buffer.alloc(1000, 'x') })),
      );
      await waitUntil(() => received >= target, `${count} deliveries`, 60_000);
    };
    await round(20_000); // warm up
    await waitUntil(() => emulator.stats().subscriptionMessages === 0, 'every ack processed', 20_000);
    gc();
    const baseline = process.memoryUsage().heapUsed;
    for (let i = 0; i < 4; i++) await round(20_000);
    await waitUntil(() => emulator.stats().subscriptionMessages === 0, 'every ack processed', 20_000);
    gc();
    const grown = process.memoryUsage().heapUsed - baseline;
    await subscription.close();
    assert.equal(emulator.stats().retainedMessages, 0, 'nothing retained without a retention setting');
    assert.ok(
      grown < 30 * 1024 * 1024,
      `heap grew ${(grown / 1024 / 1024).toFixed(1)} MiB over 80k 1 KB messages`,
    );
  });
});
