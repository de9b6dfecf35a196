/**
 * The launcher's child processes: each in its own process group (Ctrl-C in a terminal reaches
 * only the launcher, which stops them in order), their output read line by line, ready when a
 * line says so, stopped with SIGTERM then SIGKILL, and killed however the launcher itself ends.
 *
 * A launcher killed with SIGKILL cannot stop its children. So every child's pid (with its start
 * time, against pid reuse) is written to `launcher.json` in the data directory, and the next
 * launcher on that directory stops whatever the last one left running before it starts, which
 * also frees their ports.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { isRunning } from '../processes.ts';

export interface ChildSpec {
  /** Short label, used in logs and the registry: `api`, `saga`, `pubsub`. */
  name: string;
  command: string;
  args: readonly string[];
  env: Readonly<Record<string, string>>;
  cwd?: string;
  /** The output line that says it is ready, or a probe (an HTTP health check) that says so. */
  ready: RegExp | (() => Promise<boolean>);
  /** How long `ready` may take. Default 90 s: a loaded machine starting many processes at once is slow. */
  readyTimeoutMs?: number;
  /** How long SIGTERM gets before SIGKILL. Default 10 s. */
  stopGraceMs?: number;
}

export interface ManagedChild {
  readonly name: string;
  readonly spec: ChildSpec;
  /** Pid of the running process (undefined when not running). */
  readonly pid: number | undefined;
  readonly running: boolean;
  /** The last lines it wrote (stdout and stderr), oldest first (at most 2,000). */
  output(): string[];
  /** How many lines it wrote so far (over all its starts). */
  written(): number;
  /** Resolves with the first line from now on (or after line `since`, a written() count) matching `pattern`. */
  waitForLine(pattern: RegExp, options?: { timeoutMs?: number; since?: number }): Promise<RegExpExecArray>;
  /** Starts it again with the same command and environment; resolves once it is ready. */
  start(): Promise<void>;
  /** SIGTERM to its process group, SIGKILL after the grace period; resolves once it exited. */
  stop(): Promise<void>;
  /** SIGKILL to its process group at once, as a crash would; resolves once it exited. */
  kill(): Promise<void>;
}

export interface ChildEvents {
  /** Every line a child writes. */
  onLine?: (name: string, line: string, stream: 'stdout' | 'stderr') => void;
  /** A child exited without being asked to. */
  onUnexpectedExit?: (name: string, code: number | null, signal: NodeJS.Signals | null) => void;
}

export interface ChildSupervisor {
  /** Starts a child; resolves once it printed its ready line (rejects if it exits first). */
  launch(spec: ChildSpec): Promise<ManagedChild>;
  readonly children: ReadonlyMap<string, ManagedChild>;
  /** Stops every child still running, newest first, and forgets the registry. */
  stopAll(): Promise<void>;
}

const REGISTRY_FILE = 'launcher.json';
const OUTPUT_LINES = 2_000;
/** Every child carries this variable; stale children are recognised by it. */
export const LAUNCHER_RUN_VARIABLE = 'CONVEYOR_LAUNCHER_RUN';

interface RegistryEntry {
  pid: number;
  /** Kernel start time of the process (clock ticks since boot), against pid reuse. */
  started: number | null;
}

interface Registry {
  run: string;
  launcher: RegistryEntry;
  children: Record<string, RegistryEntry>;
}

/**
 * Stops what a launcher killed earlier left behind in `dataDir`. Throws if that launcher is still
 * running (two launchers on one data directory would fight over ports and files).
 */
export async function reapStaleChildren(dataDir: string, log: (line: string) => void): Promise<void> {
  const file = path.join(dataDir, REGISTRY_FILE);
  const text = await readFile(file, 'utf8').catch(() => undefined);
  if (!text) return;
  let registry: Registry;
  try {
    registry = JSON.parse(text) as Registry;
  } catch {
    await rm(file, { force: true });
    return;
  }
  if (registry.launcher.pid !== process.pid && isSameProcess(registry.launcher)) {
    throw new Error(
      `Conveyor is already running from ${dataDir} (launcher pid ${registry.launcher.pid}); ` +
        'stop it first, or give this one another CONVEYOR_DATA_DIR',
    );
  }
  const stale = Object.entries(registry.children).filter(
    ([, entry]) => isSameProcess(entry) && carriesRun(entry.pid, registry.run),
  );
  for (const [name, entry] of stale) {
    log(`stopping ${name} (pid ${entry.pid}) left running by a launcher that did not stop`);
    signalGroup(entry.pid, 'SIGTERM');
  }
  const deadline = Date.now() + 5_000;
  for (const [, entry] of stale) {
    while (isRunning(entry.pid) && Date.now() < deadline) await delay(50);
    if (isRunning(entry.pid)) signalGroup(entry.pid, 'SIGKILL');
  }
  for (const [, entry] of stale) while (isRunning(entry.pid)) await delay(20);
  await rm(file, { force: true });
}

/** Starts and tracks the launcher's children; `dataDir` holds their registry. */
export function createChildSupervisor(dataDir: string, events: ChildEvents = {}): ChildSupervisor {
  const run = randomBytes(6).toString('hex');
  const children = new Map<string, Child>();
  const registryFile = path.join(dataDir, REGISTRY_FILE);
  let writing = Promise.resolve();
  const saveRegistry = () => {
    const registry: Registry = {
      run,
      launcher: { pid: process.pid, started: startTicks(process.pid) },
      children: Object.fromEntries(
        [...children.values()].flatMap((child) =>
          child.pid ? [[child.name, { pid: child.pid, started: startTicks(child.pid) }]] : [],
        ),
      ),
    };
    writing = writing
      .then(async () => {
        await mkdir(dataDir, { recursive: true });
        await writeFile(registryFile, `${JSON.stringify(registry, null, 2)}\n`);
      })
      .catch(() => undefined);
    return writing;
  };

  // Whatever ends the launcher (an exception, process.exit), its children go with it. Only
  // SIGKILL escapes this; the registry covers that.
  const onExit = () => {
    for (const child of children.values()) if (child.pid && child.running) signalGroup(child.pid, 'SIGKILL');
  };
  process.on('exit', onExit);

  return {
    children,
    async launch(spec) {
      if (children.has(spec.name)) throw new Error(`a child named ${spec.name} is already running`);
      const child = new Child(
        { ...spec, env: { ...spec.env, [LAUNCHER_RUN_VARIABLE]: run } },
        events,
        saveRegistry,
      );
      children.set(spec.name, child);
      await child.start();
      return child;
    },
    async stopAll() {
      for (const child of [...children.values()].reverse()) await child.stop();
      process.removeListener('exit', onExit);
      await writing;
      await rm(registryFile, { force: true });
    },
  };
}

class Child implements ManagedChild {
  readonly spec: ChildSpec;
  private process: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private lines: string[] = [];
  private dropped = 0;
  private readonly listeners = new Set<() => void>();
  private stopping = false;
  private failedToSpawn = false;
  private readonly events: ChildEvents;
  private readonly changed: () => Promise<void>;

  constructor(spec: ChildSpec, events: ChildEvents, changed: () => Promise<void>) {
    this.spec = spec;
    this.events = events;
    this.changed = changed;
  }

  get name(): string {
    return this.spec.name;
  }

  get pid(): number | undefined {
    return this.running ? this.process?.pid : undefined;
  }

  get running(): boolean {
    const child = this.process;
    return child !== undefined && !this.failedToSpawn && child.exitCode === null && child.signalCode === null;
  }

  output(): string[] {
    return [...this.lines];
  }

  written(): number {
    return this.total();
  }

  async start(): Promise<void> {
    if (this.running) throw new Error(`${this.name} is already running`);
    this.stopping = false;
    this.failedToSpawn = false;
    const since = this.total();
    const child = spawn(this.spec.command, [...this.spec.args], {
      cwd: this.spec.cwd,
      env: this.spec.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.process = child;
    this.exited = new Promise((resolve) => {
      let finished = false;
      const finish = (code: number | null, signal: NodeJS.Signals | null) => {
        if (finished) return;
        finished = true;
        this.failedToSpawn ||= code === null && signal === null;
        for (const listener of this.listeners) listener();
        if (!this.stopping) this.events.onUnexpectedExit?.(this.name, code, signal);
        void this.changed();
        resolve();
      };
      child.once('exit', finish);
      // A spawn failure (no such command) emits 'error' and never 'exit'.
      child.once('error', (error) => {
        this.push(`failed to start: ${error.message}`, 'stderr');
        if (child.pid === undefined) finish(null, null);
      });
    });
    for (const [stream, readable] of [
      ['stdout', child.stdout],
      ['stderr', child.stderr],
    ] as const) {
      let partial = '';
      readable.setEncoding('utf8');
      readable.on('data', (chunk: string) => {
        const parts = (partial + chunk).split('\n');
        partial = parts.pop() ?? '';
        for (const line of parts) this.push(line, stream);
      });
      readable.on('end', () => {
        if (partial) this.push(partial, stream);
        partial = '';
      });
    }
    void this.changed();
    try {
      const timeoutMs = this.spec.readyTimeoutMs ?? 90_000;
      const ready = this.spec.ready;
      if (ready instanceof RegExp) await this.waitForLine(ready, { timeoutMs, since });
      else await this.probe(ready, timeoutMs);
    } catch (error) {
      await this.kill();
      throw error;
    }
  }

  /** Polls `ready` until it says yes; fails if the process exits first or the time runs out. */
  private async probe(ready: () => Promise<boolean>, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.running)
        throw new Error(`${this.name} exited before it was ready:\n${this.lines.slice(-30).join('\n')}`);
      if (await ready().catch(() => false)) return;
      if (Date.now() > deadline)
        throw new Error(
          `${this.name}: not ready within ${timeoutMs} ms:\n${this.lines.slice(-30).join('\n')}`,
        );
      await delay(50);
    }
  }

  waitForLine(
    pattern: RegExp,
    options: { timeoutMs?: number; since?: number } = {},
  ): Promise<RegExpExecArray> {
    const timeoutMs = options.timeoutMs ?? 30_000;
    let from = options.since ?? this.total();
    const child = this.process;
    return new Promise((resolve, reject) => {
      const check = () => {
        const total = this.total();
        for (let index = Math.max(from, this.dropped); index < total; index++) {
          const match = pattern.exec(this.lines[index - this.dropped]!);
          if (match) return done(() => resolve(match));
        }
        from = total;
        if (child && (this.failedToSpawn || child.exitCode !== null || child.signalCode !== null)) {
          done(() =>
            reject(
              new Error(
                `${this.name} exited (code ${child.exitCode}, signal ${child.signalCode}) before printing ${pattern}:\n` +
                  this.lines.slice(-30).join('\n'),
              ),
            ),
          );
        }
      };
      const timer = setTimeout(
        () =>
          done(() =>
            reject(
              new Error(
                `${this.name}: no line matching ${pattern} within ${timeoutMs} ms:\n${this.lines.slice(-30).join('\n')}`,
              ),
            ),
          ),
        timeoutMs,
      );
      const done = (settle: () => void) => {
        clearTimeout(timer);
        this.listeners.delete(check);
        settle();
      };
      this.listeners.add(check);
      check();
    });
  }

  async stop(): Promise<void> {
    if (!this.running) return this.exited;
    this.stopping = true;
    const pid = this.process!.pid!;
    signalGroup(pid, 'SIGTERM');
    const timer = setTimeout(() => signalGroup(pid, 'SIGKILL'), this.spec.stopGraceMs ?? 10_000);
    await this.exited;
    clearTimeout(timer);
  }

  async kill(): Promise<void> {
    if (!this.running) return this.exited;
    this.stopping = true;
    signalGroup(this.process!.pid!, 'SIGKILL');
    await this.exited;
  }

  private total(): number {
    return this.dropped + this.lines.length;
  }

  private push(line: string, stream: 'stdout' | 'stderr'): void {
    this.lines.push(line);
    if (this.lines.length > OUTPUT_LINES) {
      const excess = this.lines.length - OUTPUT_LINES;
      this.lines.splice(0, excess);
      this.dropped += excess;
    }
    this.events.onLine?.(this.name, line, stream);
    for (const listener of this.listeners) listener();
  }
}

/** Signals a process group (a child started detached leads its own), falling back to the process. */
function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/** Start time of a process in clock ticks since boot (Linux), or null where /proc is missing. */
function startTicks(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
  } catch {
    return null;
  }
}

function isSameProcess(entry: RegistryEntry): boolean {
  if (!isRunning(entry.pid)) return false;
  const started = startTicks(entry.pid);
  return started === null || entry.started === null || started === entry.started;
}

/** Whether the process carries the launcher run's marker (unknowable without /proc: assume so). */
function carriesRun(pid: number, run: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8')
      .split('\0')
      .includes(`${LAUNCHER_RUN_VARIABLE}=${run}`);
  } catch {
    return true;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
