/**
 * Tables for people (cli-table3): coloured borders and headings on a terminal, plain text when the
 * output goes to a file or a pipe (so `conveyor … | grep` sees the text, not escape codes).
 */
import Table, { type TableConstructorOptions } from 'cli-table3';
import type { CliContext } from './output.ts';

export function createTable(context: CliContext, options: TableConstructorOptions = {}): Table.Table {
  const plain = context.stdout.isTTY !== true || (context.env.NO_COLOR ?? '') !== '';
  return new Table({ ...options, ...(plain ? { style: { head: [], border: [], ...options.style } } : {}) });
}
