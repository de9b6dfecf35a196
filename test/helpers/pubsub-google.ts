/**
 * Google's Pub/Sub emulator (gcloud beta emulators pubsub, a Java process), for running the same
 * conformance tests and benchmarks against it where gcloud is installed. It runs in its own
 * process group, which stop() ends as a whole (gcloud's Python wrapper and the JVM).
 */
import { spawn, spawnSync } from 'node:child_process';
import { freePort } from '../../local/ports.ts';

export interface GoogleEmulator {
  readonly host: string;
  readonly port: number;
  readonly address: string;
  output(): string;
  stop(): Promise<void>;
}

let available: boolean | undefined;

/** Whether `gcloud` and its Pub/Sub emulator component are installed. */
export function googleEmulatorAvailable(): boolean {
  if (available === undefined) {
    const probe = spawnSync('gcloud', ['--version'], { encoding: 'utf8', timeout: 30_000 });
    available = probe.status === 0 && /pubsub-emulator/.test(probe.stdout);
  }
  return available;
}

/** Starts Google's emulator on 127.0.0.1 and resolves once it listens. */
export async function startGoogleEmulator(
  project = 'conformance',
  timeoutMs = 60_000,
): Promise<GoogleEmulator> {
  const host = '127.0.0.1';
  const port = await freePort(host);
  const child = spawn(
    'gcloud',
    ['beta', 'emulators', 'pubsub', 'start', `--project=${project}`, `--host-port=${host}:${port}`],
    {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let alive = true;
  void exited.then(() => (alive = false));
  const onData = (chunk: Buffer) => {
    output += chunk.toString('utf8');
    if (output.length > 1_000_000) output = output.slice(-500_000);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);

  const killGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // already gone
    }
  };
  const stop = async () => {
    if (!alive) {
      killGroup('SIGKILL'); // the JVM may outlive the gcloud wrapper
      return;
    }
    killGroup('SIGTERM');
    const timer = setTimeout(() => killGroup('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
    killGroup('SIGKILL');
  };

  const started = Date.now();
  while (!/Server started, listening on/.test(output)) {
    if (!alive) throw new Error(`Google's Pub/Sub emulator exited before listening:\n${output}`);
    if (Date.now() - started > timeoutMs) {
      await stop();
      throw new Error(`Google's Pub/Sub emulator did not start within ${timeoutMs} ms:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { host, port, address: `${host}:${port}`, output: () => output, stop };
}
