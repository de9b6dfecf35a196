/**
 * `npm run bench`: Conveyor's benchmarks, one after another. Each prints a table and its results
 * go to .tmp/bench/<name>.json (the latest) and .tmp/bench/<name>-<time>.json (history). Exits
 * non-zero when a bench misses its targets.
 *
 *   node test/bench/main.ts            every bench
 *   node test/bench/main.ts api        only the named ones
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import Table from 'cli-table3';
import { runApiBench, type ApiBenchResult } from './api.ts';

process.env.METADATA_SERVER_DETECTION = 'none';

interface Bench {
  run(): Promise<{ pass: boolean }>;
  print(result: never): string;
}

const BENCHES: Record<string, Bench> = {
  api: { run: () => runApiBench(), print: (result: ApiBenchResult) => printApi(result) },
};

const OUT_DIR = path.resolve(import.meta.dirname, '../../.tmp/bench');

const requested = process.argv.slice(2);
const unknown = requested.filter((name) => !(name in BENCHES));
if (unknown.length > 0) {
  console.error(`unknown bench ${unknown.join(', ')}; known: ${Object.keys(BENCHES).join(', ')}`);
  process.exit(2);
}
let failed = false;
await mkdir(OUT_DIR, { recursive: true });
for (const name of requested.length > 0 ? requested : Object.keys(BENCHES)) {
  const bench = BENCHES[name]!;
  const result = await bench.run();
  console.log(`\n${bench.print(result as never)}`);
  const json = `${JSON.stringify({ at: new Date().toISOString(), ...result }, null, 2)}\n`;
  await writeFile(path.join(OUT_DIR, `${name}.json`), json);
  await writeFile(path.join(OUT_DIR, `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`), json);
  console.log(
    `${name}: ${result.pass ? 'targets met' : 'TARGETS MISSED'} (results in ${path.relative(process.cwd(), OUT_DIR)}/${name}.json)`,
  );
  failed ||= !result.pass;
}
process.exit(failed ? 1 : 0);

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
