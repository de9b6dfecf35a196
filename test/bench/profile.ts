/**
 * Where the CPU time goes, from V8 CPU profiles (`node --cpu-prof`): per process, the busy time,
 * the self time by package (or project folder, or V8's own: GC, the compiler) and the functions
 * that cost most. `node test/bench/profile.ts <dir>` prints the summary of every profile there.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
}

export interface ProfileSummary {
  process: string;
  /** Wall time the profile covers, and the part of it not idle, ms. */
  wallMs: number;
  busyMs: number;
  /** Self time by where the code lives (package, project folder, V8), ms, most first. */
  byOwner: { owner: string; ms: number; share: number }[];
  /** Functions with the most self time. */
  top: { fn: string; ms: number; share: number }[];
}

const SPECIAL = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);

/** Who owns the code at `url`: an npm package, a project folder, node's own, or V8. */
function ownerOf(node: ProfileNode): string {
  const { url, functionName } = node.callFrame;
  if (SPECIAL.has(functionName)) return functionName;
  if (!url) return '(native)';
  const modules = url.lastIndexOf('node_modules/');
  if (modules >= 0) {
    const rest = url.slice(modules + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (url.startsWith('node:')) return 'node:internal';
  const project = /\/(api|functions|shared|local)\/([^/]+)/.exec(url);
  return project ? `${project[1]}/${project[2]}` : url;
}

export function summarizeProfile(name: string, profile: CpuProfile, top = 8): ProfileSummary {
  const wallMs = (profile.endTime - profile.startTime) / 1000;
  const perSampleMs = profile.samples.length > 0 ? wallMs / profile.samples.length : 0;
  const byNode = new Map<number, ProfileNode>(profile.nodes.map((node) => [node.id, node]));
  const hits = new Map<number, number>();
  for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
  const owners = new Map<string, number>();
  const functions = new Map<string, number>();
  let idle = 0;
  for (const [id, count] of hits) {
    const node = byNode.get(id)!;
    const ms = count * perSampleMs;
    if (node.callFrame.functionName === '(idle)') {
      idle += ms;
      continue;
    }
    const owner = ownerOf(node);
    owners.set(owner, (owners.get(owner) ?? 0) + ms);
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url ? `${url.replace(/^.*\/(node_modules|work\/main)\//, '')}:${lineNumber + 1}` : '';
    const fn = `${functionName || '(anonymous)'} ${where}`.trim();
    functions.set(fn, (functions.get(fn) ?? 0) + ms);
  }
  const busyMs = wallMs - idle;
  const ranked = (map: Map<string, number>) => [...map].sort((a, b) => b[1] - a[1]).slice(0, top);
  return {
    process: name,
    wallMs: Math.round(wallMs),
    busyMs: Math.round(busyMs),
    byOwner: ranked(owners).map(([owner, ms]) => ({ owner, ms: Math.round(ms), share: round(ms / busyMs) })),
    top: ranked(functions).map(([fn, ms]) => ({ fn, ms: Math.round(ms), share: round(ms / busyMs) })),
  };
}

const round = (value: number) => Math.round(value * 1000) / 1000;

/** Summaries of every *.cpuprofile in `dir` (named <process>.cpuprofile). */
export async function summarizeProfiles(dir: string): Promise<ProfileSummary[]> {
  const files = (await readdir(dir).catch(() => [] as string[])).filter((file) =>
    file.endsWith('.cpuprofile'),
  );
  const summaries: ProfileSummary[] = [];
  for (const file of files.sort()) {
    const profile = JSON.parse(await readFile(path.join(dir, file), 'utf8')) as CpuProfile;
    summaries.push(summarizeProfile(file.replace(/\.cpuprofile$/, ''), profile));
  }
  return summaries.sort((a, b) => b.busyMs - a.busyMs);
}

export function printProfiles(summaries: readonly ProfileSummary[]): string {
  const lines: string[] = [];
  for (const summary of summaries) {
    lines.push(
      `${summary.process}: busy ${(summary.busyMs / 1000).toFixed(1)} s of ${(summary.wallMs / 1000).toFixed(1)} s`,
      `  by owner: ${summary.byOwner.map((o) => `${o.owner} ${(o.share * 100).toFixed(0)}%`).join(', ')}`,
      ...summary.top.slice(0, 5).map((f) => `  ${(f.share * 100).toFixed(1).padStart(5)}%  ${f.fn}`),
    );
  }
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2] ?? '.tmp/bench/profiles/e2e';
  console.log(printProfiles(await summarizeProfiles(dir)));
}
