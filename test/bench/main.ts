/**
 * `npm run bench`: Conveyor's benchmarks, one after another, then one table of the figures and
 * their ratios to baselines measured in the same run, written also to .tmp/bench/results.json.
 * Each bench prints its own table too and keeps its own file (.tmp/bench/<name>.json, the latest,
 * and <name>-<time>.json). Exits non-zero when a bench misses its targets.
 *
 *   node test/bench/main.ts                  every bench: api, e2e, pubsub, replay
 *   node test/bench/main.ts api e2e          only the named ones
 *
 * - api: POST /v1/orders against a bare Fastify route doing one insert (api.ts).
 * - e2e: accept → order.completed through the whole local stack (e2e.ts).
 * - pubsub: our emulator's publish and streaming pull against Google's where gcloud has it
 *   (pubsub.ts, `npm run bench:pubsub`, run as its own process).
 * - replay: 100,000 events replayed into BigQuery (replay.ts, `npm run bench:replay`, its own process).
 * Their settings are their files' environment variables (BENCH_*).
 */
import { spawn } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Table from 'cli-table3';
import { runApiBench, type ApiBenchResult } from './api.ts';
import { runE2eBench, withProfiles, type E2eBenchResult } from './e2e.ts';
import { printProfiles } from './profile.ts';

process.env.METADATA_SERVER_DETECTION = 'none';

const ROOT = path.resolve(import.meta.dirname, '../..');
const OUT_DIR = path.join(ROOT, '.tmp/bench');

interface PubSubResult {
  target: 'ours' | 'google';
  scenario: string;
  publishSeconds: number;
  publishRate: number;
  receiveSeconds: number;
  receiveRate: number;
  completed: boolean;
}

/** Messages through publish and then streaming pull, per second of both together. */
const combinedRate = (result: PubSubResult, messages: number) =>
  messages / (result.publishSeconds + result.receiveSeconds);
interface PubSubBenchResult {
  name: 'pubsub';
  messages: number;
  results: PubSubResult[];
  pass: boolean;
}
interface ReplayBenchResult {
  name: 'replay';
  config: { events: number };
  seconds: number;
  eventsPerSecond: number;
  views: { duplicates: number };
  target: { seconds: number };
  pass: boolean;
}
type Result = ApiBenchResult | E2eBenchResult | PubSubBenchResult | ReplayBenchResult;

interface Bench {
  run(): Promise<Result>;
  print(result: never): string;
}

/** Runs a bench script that writes .tmp/bench/<name>.json as its own process; returns that file. */
async function script<T>(file: string, name: string): Promise<T> {
  // An earlier run's file must not pass for this run's.
  await rm(path.join(OUT_DIR, `${name}.json`), { force: true });
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, file)], { cwd: ROOT, stdio: 'inherit' });
    child.once('error', reject);
    child.once('exit', resolve);
  });
  const result = JSON.parse(await readFile(path.join(OUT_DIR, `${name}.json`), 'utf8')) as T;
  return { ...result, exitCode: code };
}

const BENCHES: Record<string, Bench> = {
  api: { run: () => runApiBench(), print: (result: ApiBenchResult) => printApi(result) },
  e2e: {
    run: async () => withProfiles(await runE2eBench()),
    print: (result: E2eBenchResult) => printE2e(result),
  },
  pubsub: {
    async run() {
      const result = await script<Omit<PubSubBenchResult, 'name' | 'pass'>>('test/bench/pubsub.ts', 'pubsub');
      const ours = result.results.filter((r) => r.target === 'ours');
      const google = result.results.filter((r) => r.target === 'google');
      // Publish + streaming pull (the two together) at least Google's emulator's, every scenario.
      const pass =
        ours.every((r) => r.completed) &&
        ours.every((r) => {
          const theirs = google.find((g) => g.scenario === r.scenario);
          return !theirs || combinedRate(r, result.messages) >= combinedRate(theirs, result.messages);
        });
      return { name: 'pubsub', ...result, pass };
    },
    print: () => '', // pubsub.ts printed its table
  },
  replay: {
    run: () => script<ReplayBenchResult>('test/bench/replay.ts', 'replay'),
    print: () => '', // replay.ts printed its summary
  },
};

const requested = process.argv.slice(2);
const unknown = requested.filter((name) => !(name in BENCHES));
if (unknown.length > 0) {
  console.error(`unknown bench ${unknown.join(', ')}; known: ${Object.keys(BENCHES).join(', ')}`);
  process.exit(2);
}
const started = new Date();
const load = os.loadavg()[0]!;
const results: Record<string, Result> = {};
let failed = false;
await mkdir(OUT_DIR, { recursive: true });
for (const name of requested.length > 0 ? requested : Object.keys(BENCHES)) {
  const bench = BENCHES[name]!;
  let result: Result;
  try {
    result = await bench.run();
  } catch (error) {
    console.error(`${name}: the bench failed to run:`, error);
    failed = true;
    continue;
  }
  results[name] = result;
  const printed = bench.print(result as never);
  if (printed) console.log(`\n${printed}`);
  if (name === 'api' || name === 'e2e') {
    const json = `${JSON.stringify({ at: new Date().toISOString(), ...result }, null, 2)}\n`;
    await writeFile(path.join(OUT_DIR, `${name}.json`), json);
    await writeFile(
      path.join(OUT_DIR, `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`),
      json,
    );
  }
  console.log(`${name}: ${result.pass ? 'targets met' : 'TARGETS MISSED'}`);
  failed ||= !result.pass;
}

const summary = summarize(results);
console.log(
  `\nConveyor benchmarks (${os.availableParallelism()} CPUs, ${os.cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}; ` +
    `load average ${load.toFixed(1)} at the start)`,
);
console.log(printSummary(summary));
await writeFile(
  path.join(OUT_DIR, 'results.json'),
  `${JSON.stringify(
    {
      at: started.toISOString(),
      machine: {
        cpus: os.availableParallelism(),
        model: os.cpus()[0]?.model,
        loadAverageAtStart: load,
        node: process.version,
      },
      summary,
      results,
    },
    null,
    2,
  )}\n`,
);
await writeFile(path.join(OUT_DIR, 'results.md'), `${printSummaryMarkdown(summary)}\n`);
console.log(
  `results in ${path.relative(process.cwd(), path.join(OUT_DIR, 'results.json'))} (and results.md, the table in Markdown)`,
);
process.exit(failed ? 1 : 0);

interface SummaryRow {
  bench: string;
  figure: string;
  baseline: string;
  ratio: string;
  target: string;
  met: boolean | null;
}

function summarize(all: Record<string, Result>): SummaryRow[] {
  const rows: SummaryRow[] = [];
  const api = all.api as ApiBenchResult | undefined;
  if (api) {
    rows.push({
      bench: 'API accept path (POST /v1/orders, committed + published)',
      figure: `${api.accept.rps} orders/s, p99 ${api.accept.p99Ms} ms`,
      baseline: `bare Fastify + 1 insert: ${api.bare.rps}/s`,
      ratio: api.ratio.toFixed(2),
      target: `≥ ${api.targets.ratio}`,
      met: api.ratio >= api.targets.ratio,
    });
    rows.push({
      bench: 'API at half its peak',
      figure: `${api.halfPeak.rps} orders/s, p99 ${api.halfPeak.p99Ms} ms`,
      baseline: '—',
      ratio: '—',
      target: `p99 < ${api.targets.halfPeakP99Ms} ms`,
      met: api.halfPeak.p99Ms < api.targets.halfPeakP99Ms,
    });
  }
  const e2e = all.e2e as E2eBenchResult | undefined;
  if (e2e) {
    const best = e2e.best;
    rows.push({
      bench: `End to end (accept → order.completed), ${best.offeredOrdersPerSecond} orders/s offered`,
      figure: `${best.eventsPerSecond} events/s (${best.ordersPerSecond} orders/s), p50 ${best.p50Ms} ms, p99 ${best.p99Ms} ms`,
      baseline: api ? `API accept peak: ${api.accept.rps} orders/s` : '—',
      ratio: api ? (best.ordersPerSecond / api.accept.rps).toFixed(2) : '—',
      target: `≥ ${e2e.targets.eventsPerSecond} events/s, p99 < ${e2e.targets.p99Ms} ms`,
      met: e2e.pass,
    });
    rows.push({
      bench: 'End to end at saturation (the most any step processed)',
      figure: `${e2e.peak.eventsPerSecond} events/s (${e2e.peak.ordersPerSecond} orders/s) at ${e2e.peak.offeredOrdersPerSecond} offered, p99 ${e2e.peak.p99Ms} ms`,
      baseline: api ? `API accept peak: ${api.accept.rps} orders/s` : '—',
      ratio: api ? (e2e.peak.ordersPerSecond / api.accept.rps).toFixed(2) : '—',
      target: `≥ ${e2e.targets.eventsPerSecond} events/s`,
      met: e2e.peak.eventsPerSecond >= e2e.targets.eventsPerSecond,
    });
  }
  const pubsub = all.pubsub as PubSubBenchResult | undefined;
  if (pubsub) {
    for (const ours of pubsub.results.filter((r) => r.target === 'ours')) {
      const google = pubsub.results.find((r) => r.target === 'google' && r.scenario === ours.scenario);
      const rates = (r: PubSubResult) =>
        `${Math.round(r.publishRate)} / ${Math.round(r.receiveRate)} / ${Math.round(combinedRate(r, pubsub.messages))} msg/s`;
      rows.push({
        bench: `Pub/Sub emulator, ${ours.scenario} (publish / streaming pull / both)`,
        figure: rates(ours),
        baseline: google ? `Google's emulator: ${rates(google)}` : "Google's emulator not installed",
        ratio: google
          ? `${(ours.publishRate / google.publishRate).toFixed(1)} / ${(ours.receiveRate / google.receiveRate).toFixed(1)} / ${(combinedRate(ours, pubsub.messages) / combinedRate(google, pubsub.messages)).toFixed(1)}`
          : '—',
        target: "both ≥ Google's",
        met: google ? combinedRate(ours, pubsub.messages) >= combinedRate(google, pubsub.messages) : null,
      });
    }
  }
  const replay = all.replay as ReplayBenchResult | undefined;
  if (replay) {
    rows.push({
      bench: `Replay of ${replay.config.events.toLocaleString('en')} events into BigQuery`,
      figure: `${replay.seconds} s (${replay.eventsPerSecond} events/s), ${replay.views.duplicates} duplicates in the views`,
      baseline: `target time ${replay.target.seconds} s`,
      ratio: (replay.target.seconds / replay.seconds).toFixed(2),
      target: `< ${replay.target.seconds} s, 0 duplicates`,
      met: replay.pass,
    });
  }
  return rows;
}

function printSummary(rows: readonly SummaryRow[]): string {
  const table = new Table({ head: ['bench', 'figure', 'baseline (same run)', 'ratio', 'target', 'met'] });
  for (const row of rows)
    table.push([
      row.bench,
      row.figure,
      row.baseline,
      row.ratio,
      row.target,
      row.met === null ? '—' : row.met ? 'yes' : 'NO',
    ]);
  return table.toString();
}

function printSummaryMarkdown(rows: readonly SummaryRow[]): string {
  const cell = (text: string) => text.replaceAll('|', '\\|');
  return [
    '| bench | figure | baseline (same run) | ratio | target | met |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      (row) =>
        `| ${[row.bench, row.figure, row.baseline, row.ratio, row.target, row.met === null ? '—' : row.met ? 'yes' : '**no**'].map(cell).join(' | ')} |`,
    ),
  ].join('\n');
}

function printE2e(result: E2eBenchResult): string {
  const table = new Table({
    head: [
      'offered orders/s',
      'accepted',
      'events/s',
      'orders/s',
      'p50 ms',
      'p99 ms',
      'drain ms',
      'CPU s (busiest)',
    ],
  });
  for (const step of result.steps) {
    const busiest = Object.entries(step.cpuSeconds)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 4)
      .map(([name, seconds]) => `${name} ${seconds}`)
      .join(', ');
    table.push([
      step.offeredOrdersPerSecond,
      step.accepted,
      step.eventsPerSecond,
      step.ordersPerSecond,
      step.p50Ms,
      step.p99Ms,
      step.drainMs,
      busiest,
    ]);
  }
  return [
    `End to end: accept → order.completed through the local stack, ${result.config.seconds} s per step (${result.config.cpus} CPUs, Node ${result.config.node})`,
    table.toString(),
    result.profiles ? `CPU profiles (self time):\n${printProfiles(result.profiles)}` : '',
  ]
    .filter(Boolean)
    .join('\n');
}

function printApi(result: ApiBenchResult): string {
  const table = new Table({
    head: [
      '',
      'orders/s',
      'p50 ms',
      'p90 ms',
      'p99 ms',
      'non-2xx',
      'CPU ms/1k: server+pg+pubsub+load',
      'publish lag p50/p99 ms',
    ],
  });
  const lag = (l: ApiBenchResult['accept']['publishLag']) => `${l.p50Ms} / ${l.p99Ms}`;
  const cpu = ({ cpuMsPer1k: c }: ApiBenchResult['bare']) =>
    `${c.server}+${c.postgres}+${c.emulator}+${c.loadGenerator} = ${c.total}`;
  // prettier-ignore
  table.push(
    [`bare route: 1 insert (${result.config.connections} conns)`, result.bare.rps, result.bare.p50Ms, result.bare.p90Ms, result.bare.p99Ms, result.bare.non2xx + result.bare.errors, cpu(result.bare), '—'],
    [`POST /v1/orders (${result.config.connections} conns)`, result.accept.rps, result.accept.p50Ms, result.accept.p90Ms, result.accept.p99Ms, result.accept.non2xx + result.accept.errors, cpu(result.accept), lag(result.accept.publishLag)],
    [`POST /v1/orders at ${result.halfPeak.targetRps}/s (half peak)`, result.halfPeak.rps, result.halfPeak.p50Ms, result.halfPeak.p90Ms, result.halfPeak.p99Ms, result.halfPeak.non2xx + result.halfPeak.errors, cpu(result.halfPeak), lag(result.halfPeak.publishLag)],
  );
  const verdict = (ok: boolean) => (ok ? 'ok' : 'MISSED');
  return [
    `API accept path (${result.config.cpus} CPUs, Node ${result.config.node}, Postgres ${result.config.pgDurable ? 'durable' : 'fsync off'}, pool ${result.config.pgPoolMax}; median of ${result.config.rounds} rounds of ${result.config.durationSeconds} s)`,
    table.toString(),
    `rounds: bare ${result.rounds.bare.join(', ')} /s; accept ${result.rounds.accept.join(', ')} /s; half-peak p99 ${result.rounds.halfPeakP99Ms.join(', ')} ms`,
    `ratio accept/bare: ${result.ratio.toFixed(2)} (target ≥ ${result.targets.ratio}: ${verdict(result.ratio >= result.targets.ratio)})`,
    `p99 at half peak: ${result.halfPeak.p99Ms} ms (target < ${result.targets.halfPeakP99Ms} ms: ${verdict(result.halfPeak.p99Ms < result.targets.halfPeakP99Ms)})`,
    `outbox at the end of the peak run: ${result.accept.publishLag.backlogAtEnd} unpublished, drained in ${result.accept.publishLag.drainMs} ms; ` +
      `rows per relay cycle: ${result.accept.publishLag.rowsPerCycle} at peak, ${result.halfPeak.publishLag.rowsPerCycle} at half peak`,
  ].join('\n');
}
