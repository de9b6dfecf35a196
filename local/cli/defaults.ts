/**
 * Defaults from a running local stack: `npm start` writes its environment (CONVEYOR_API_URL,
 * CONVEYOR_API_KEY, PUBSUB_EMULATOR_HOST, BIGQUERY_API_ENDPOINT, DATABASE_URL…) to
 * `<CONVEYOR_DATA_DIR or .conveyor>/stack.env`, so `npx conveyor …` in the project works with no
 * setup. A variable set in the environment always wins.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

export function withLocalStackDefaults(
  env: Readonly<Record<string, string | undefined>>,
  cwd = process.cwd(),
): Record<string, string | undefined> {
  const file = path.resolve(cwd, env.CONVEYOR_DATA_DIR ?? '.conveyor', 'stack.env');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return { ...env };
  }
  const defaults: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (match) defaults[match[1]!] = match[2]!;
  }
  const merged: Record<string, string | undefined> = { ...defaults };
  for (const [name, value] of Object.entries(env))
    if (value !== undefined && value !== '') merged[name] = value;
  return merged;
}
