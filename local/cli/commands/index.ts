/**
 * The CLI's commands, one file each: a module exporting `register(program, context)` that adds
 * its command. To add one (orders, dead-letters, tail, bq…), write commands/<name>.ts and list it
 * here.
 */
import type { Command } from 'commander';
import type { CliContext } from '../output.ts';
import * as bq from './bq.ts';
import * as deadLetters from './dead-letters.ts';
import * as orders from './orders.ts';
import * as reconcile from './reconcile.ts';
import * as replay from './replay.ts';
import * as tail from './tail.ts';

export const COMMANDS: readonly { register(program: Command, context: CliContext): void }[] = [
  orders,
  deadLetters,
  replay,
  reconcile,
  tail,
  bq,
];
