import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { telemetryEnv } from '#shared/telemetry/config.ts';
import { METRIC_LIST, cloudMonitoringType, prometheusName } from '#shared/telemetry/metrics-catalogue.ts';

const readme = readFileSync(path.resolve(import.meta.dirname, '../../../shared/telemetry/README.md'), 'utf8');

/** The cells of each row of the markdown table between the two markers, header and rule left out. */
function tableBetween(start: string, end: string): string[][] {
  const body = readme.slice(readme.indexOf(start) + start.length, readme.indexOf(end));
  return body
    .split('\n')
    .filter((line) => line.startsWith('|'))
    .slice(2)
    .map((line) =>
      line
        .split('|')
        .slice(1, -1)
        .map((cell) => cell.trim()),
    );
}

describe('shared/telemetry/README.md', () => {
  it('lists every metric exactly as the catalogue has it', () => {
    const code = (text: string) => `\`${text}\``;
    const expected = METRIC_LIST.map((metric) => [
      code(metric.name),
      metric.kind,
      code(metric.unit),
      metric.labels.map(code).join(', ') || '—',
      code(prometheusName(metric)),
      metric.builtIn ? `${code(metric.builtIn)} (built in)` : code(cloudMonitoringType(metric)),
      metric.description,
    ]);
    assert.deepEqual(tableBetween('<!-- metrics:start -->', '<!-- metrics:end -->'), expected);
  });

  it('documents every telemetry variable', () => {
    for (const variable of Object.keys(telemetryEnv.shape))
      assert.ok(readme.includes(`\`${variable}\``), variable);
  });
});
