import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { DEPLOYABLES } from '../../../infra/deployables.ts';
import type { DeployableName } from '../../../infra/deployables.ts';

const readme = readFileSync(path.resolve(import.meta.dirname, '../../../infra/README.md'), 'utf8');

describe('infra/README.md', () => {
  it('documents the environment of each deployable exactly as deployables.ts wires it', () => {
    const lines = readme.split('\n');
    const at = lines.findIndex((line) => line.startsWith('| variable |'));
    assert.ok(at >= 0, 'the table is there');
    const header = lines[at]!.split('|')
      .slice(2, -1)
      .map((cell) => cell.trim()) as DeployableName[];
    const rows: string[][] = [];
    for (const line of lines.slice(at + 2)) {
      if (!line.startsWith('|')) break;
      rows.push(
        line
          .split('|')
          .slice(1, -1)
          .map((cell) => cell.trim()),
      );
    }
    assert.deepEqual([...header].sort(), Object.keys(DEPLOYABLES).sort());
    const documented: Record<string, Record<string, string>> = {};
    for (const [variable, ...cells] of rows)
      header.forEach((name, index) => {
        if (cells[index]) (documented[name] ??= {})[variable!.replaceAll('`', '')] = cells[index];
      });
    const wired = Object.fromEntries(
      header.map((name) => [
        name,
        Object.fromEntries(
          Object.entries(DEPLOYABLES[name].env).map(([variable, source]) => [
            variable,
            'secret' in source ? 'secret' : 'value',
          ]),
        ),
      ]),
    );
    assert.deepEqual(documented, wired);
  });

  it('keeps the exit path to plain OpenTofu or Terraform', () => {
    assert.match(readme, /## Deploy/);
    assert.match(readme, /tofu init/);
    assert.match(readme, /backend-config=bucket=/);
  });
});
