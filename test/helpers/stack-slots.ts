/**
 * At most STACK_SLOTS whole local stacks (startLocalStack: ten processes each) at once across the
 * test files of one run. Three of them under load on two cores starve each other: settles slow
 * down until suites run out of time. A slot is a directory (mkdir is atomic) holding its owner's
 * pid; a slot whose owner is gone is taken over.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isRunning } from '../../local/processes.ts';
import { RUN_ID_VARIABLE } from './processes.ts';

export const STACK_SLOTS = Number(process.env.CONVEYOR_TEST_STACK_SLOTS ?? 2);

/** The directory of one run's slots (test/run.ts removes it at the end). */
export function stackSlotsDir(runId = process.env[RUN_ID_VARIABLE] ?? 'adhoc'): string {
  return path.join(os.tmpdir(), `conveyor-stack-slots-${runId}`);
}

/** Waits for a free slot; resolves to its release. */
export async function acquireStackSlot(what: string): Promise<() => Promise<void>> {
  const dir = stackSlotsDir();
  await mkdir(dir, { recursive: true });
  const started = performance.now();
  for (;;) {
    for (let slot = 0; slot < STACK_SLOTS; slot++) {
      const slotDir = path.join(dir, String(slot));
      if (await take(slotDir)) {
        const waited = Math.round(performance.now() - started);
        if (waited > 1_000) console.log(`${what}: waited ${waited} ms for one of ${STACK_SLOTS} stack slots`);
        return () => rm(slotDir, { recursive: true, force: true });
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function take(slotDir: string): Promise<boolean> {
  try {
    await mkdir(slotDir);
  } catch {
    const owner = Number(await readFile(path.join(slotDir, 'pid'), 'utf8').catch(() => 'NaN'));
    // An owner that died without releasing (or had not yet written its pid: give it a moment).
    if (Number.isInteger(owner) && !isRunning(owner)) await rm(slotDir, { recursive: true, force: true });
    return false;
  }
  await writeFile(path.join(slotDir, 'pid'), String(process.pid));
  return true;
}
