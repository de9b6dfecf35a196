/** Process helpers shared by the local launcher, the Postgres manager and the test runner. */
import { readFileSync } from 'node:fs';

/**
 * Whether `pid` is a live process. A killed process whose parent is gone may linger as a zombie
 * until something reaps it (not every container's init does); a zombie runs nothing and counts as gone.
 */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return true; // no /proc (macOS): trust the signal probe
  }
}
