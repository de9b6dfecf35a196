/**
 * Pub/Sub emulator benchmark (`npm run bench:pubsub`): publish N × 100-byte messages, then receive
 * and ack them all with a streaming subscriber (client defaults), for an unordered subscription,
 * 10 ordering keys and 1 ordering key; against our emulator and, where gcloud is installed,
 * Google's, in the same run. Prints msg/s and the ratio ours/Google; writes .tmp/bench/pubsub.json.
 *
 *   BENCH_MESSAGES=50000 (default)  BENCH_TARGETS=ours,google (default: both when available)
 *   BENCH_SCENARIOS=0,10,1 (ordering keys per scenario; default: all three)
 *   BENCH_WARM_UP=5000 (unmeasured messages each emulator gets first)
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PubSub } from '@google-cloud/pubsub';
import Table from 'cli-table3';
import { startProcess } from '../helpers/processes.ts';
import { googleEmulatorAvailable, startGoogleEmulator } from '../helpers/pubsub-google.ts';

process.env.METADATA_SERVER_DETECTION = 'none';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 50_000);
const SIZE = 100;
const WARM_UP_MESSAGES = Number(process.env.BENCH_WARM_UP ?? 5000);
const SCENARIO_TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_MS ?? 400_000);
const ALL_SCENARIOS = [
  { name: 'unordered', keys: 0 },
  { name: '10 ordering keys', keys: 10 },
  { name: '1 ordering key', keys: 1 },
] as const;
const SCENARIOS = process.env.BENCH_SCENARIOS
  ? ALL_SCENARIOS.filter((s) => process.env.BENCH_SCENARIOS!.split(',').includes(String(s.keys)))
  : ALL_SCENARIOS;

interface Result {
  target: string;
  scenario: string;
  publishSeconds: number;
  publishRate: number;
  receiveSeconds: number;
  receiveRate: number;
  duplicates: number;
  orderViolations: number;
  completed: boolean;
}

interface Target {
  name: 'ours' | 'google';
  address: string;
  /** Peak resident memory of the emulator process, KiB, when known. */
  peakRssKiB(): Promise<number | undefined>;
  stop(): Promise<void>;
}

async function startOurs(): Promise<Target> {
  const child = startProcess(process.execPath, [
    'local/pubsub-emulator/main.ts',
    '--host',
    '127.0.0.1',
    '--port',
    '0',
  ]);
  const match = await child.waitFor(/Pub\/Sub emulator listening on (\S+):(\d+)/);
  return {
    name: 'ours',
    address: `${match[1]}:${match[2]}`,
    peakRssKiB: () => peakRss(child.child.pid),
    stop: () => child.stop(),
  };
}

async function startGoogle(): Promise<Target> {
  const emulator = await startGoogleEmulator('bench');
  return {
    name: 'google',
    address: emulator.address,
    peakRssKiB: () => Promise.resolve(undefined),
    stop: () => emulator.stop(),
  };
}

async function peakRss(pid: number | undefined): Promise<number | undefined> {
  if (!pid) return undefined;
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const match = /VmHWM:\s+(\d+) kB/.exec(status);
  return match ? Number(match[1]) : undefined;
}

async function runScenario(
  target: Target,
  scenario: { name: string; keys: number },
  run: string,
  messages = MESSAGES,
): Promise<Result> {
  const pubsub = new PubSub({ projectId: 'bench', apiEndpoint: target.address });
  const topicName = `bench-${run}-${scenario.keys}`;
  const [topic] = await pubsub.createTopic(topicName);
  const [subscription] = await topic.createSubscription(`${topicName}-sub`, {
    enableMessageOrdering: scenario.keys > 0,
  });
  const publisher = pubsub.topic(topicName, { messageOrdering: scenario.keys > 0 });
  const payload = (i: number) => {
    const data = Buffer.alloc(SIZE, 'x');
    data.write(String(i).padStart(10, '0'));
    return data;
  };

  const publishStart = performance.now();
  await Promise.all(
    Array.from({ length: messages }, (_, i) =>
      publisher.publishMessage({
        data: payload(i),
        ...(scenario.keys > 0 ? { orderingKey: `key-${i % scenario.keys}` } : {}),
      }),
    ),
  );
  const publishSeconds = (performance.now() - publishStart) / 1000;

  const seen = new Set<string>();
  const lastByKey = new Map<string, number>();
  let duplicates = 0;
  let orderViolations = 0;
  const receiveStart = performance.now();
  const receiver = pubsub.subscription(subscription.name);
  const completed = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), SCENARIO_TIMEOUT_MS);
    receiver.on('error', (error) => console.error(`  subscriber error (${target.name}):`, error.message));
    receiver.on('message', (message) => {
      message.ack();
      if (seen.has(message.id)) {
        duplicates++;
        return;
      }
      seen.add(message.id);
      if (message.orderingKey) {
        const sequence = Number(message.data.subarray(0, 10).toString());
        if (sequence < (lastByKey.get(message.orderingKey) ?? -1)) orderViolations++;
        lastByKey.set(message.orderingKey, sequence);
      }
      if (seen.size === messages) {
        clearTimeout(timer);
        resolve(true);
      }
    });
  });
  const receiveSeconds = (performance.now() - receiveStart) / 1000;
  await receiver.close();
  await subscription.delete().catch(() => {});
  await topic.delete().catch(() => {});
  await pubsub.close();
  return {
    target: target.name,
    scenario: scenario.name,
    publishSeconds,
    publishRate: messages / publishSeconds,
    receiveSeconds,
    receiveRate: seen.size / receiveSeconds,
    duplicates,
    orderViolations,
    completed,
  };
}

const wanted = (process.env.BENCH_TARGETS ?? 'ours,google').split(',');
const targets: (() => Promise<Target>)[] = [];
if (wanted.includes('ours')) targets.push(startOurs);
if (wanted.includes('google')) {
  if (googleEmulatorAvailable()) targets.push(startGoogle);
  else console.log("Google's emulator is not installed (gcloud beta emulators pubsub): measuring ours only.");
}

const results: Result[] = [];
const memory: Record<string, number | undefined> = {};
const run = Date.now().toString(36);
for (const start of targets) {
  const target = await start();
  console.log(`${target.name}: emulator at ${target.address}`);
  try {
    // Warm-up (not measured): both emulators, and the client, get their JIT compilers going.
    await runScenario(target, { name: 'warm-up', keys: 0 }, `${run}-warm`, WARM_UP_MESSAGES);
    for (const scenario of SCENARIOS) {
      const result = await runScenario(target, scenario, run);
      results.push(result);
      console.log(
        `  ${scenario.name}: publish ${result.publishRate.toFixed(0)} msg/s, receive+ack ` +
          `${result.receiveRate.toFixed(0)} msg/s${result.completed ? '' : ' (TIMED OUT)'}`,
      );
    }
    memory[target.name] = await target.peakRssKiB();
  } finally {
    await target.stop();
  }
}

const table = new Table({
  style: { head: [], border: [] },
  head: [
    'scenario',
    'target',
    'publish msg/s',
    'receive+ack msg/s',
    'receive s',
    'dups',
    'order errs',
    'ours/Google',
  ],
});
for (const scenario of SCENARIOS) {
  const ours = results.find((r) => r.target === 'ours' && r.scenario === scenario.name);
  const google = results.find((r) => r.target === 'google' && r.scenario === scenario.name);
  for (const result of [ours, google]) {
    if (!result) continue;
    const ratio =
      result === ours && google && ours
        ? `${(ours.receiveRate / google.receiveRate).toFixed(1)}× receive, ${(ours.publishRate / google.publishRate).toFixed(1)}× publish`
        : '';
    table.push([
      scenario.name,
      result.target + (result.completed ? '' : ' (timed out)'),
      result.publishRate.toFixed(0),
      result.receiveRate.toFixed(0),
      result.receiveSeconds.toFixed(2),
      result.duplicates,
      result.orderViolations,
      ratio,
    ]);
  }
}
console.log(`\n${MESSAGES} messages of ${SIZE} bytes; streaming subscriber with client defaults`);
console.log(table.toString());
if (memory.ours) console.log(`our emulator peak RSS: ${(memory.ours / 1024).toFixed(0)} MiB`);

const file = path.join('.tmp', 'bench', 'pubsub.json');
await mkdir(path.dirname(file), { recursive: true });
await writeFile(
  file,
  `${JSON.stringify({ messages: MESSAGES, size: SIZE, results, peakRssKiB: memory }, null, 2)}\n`,
);
console.log(`results written to ${file}`);
process.exit(0);
