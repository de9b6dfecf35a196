/**
 * api/server.ts as its own process, as the container runs it: on a test database, on a port the
 * OS picks, with the outbox relay's LISTEN off unless `env` says otherwise. Resolves once it
 * listens; the caller stops it (test/helpers/processes.ts).
 */
import path from 'node:path';
import { startProcess, type ManagedProcess } from './processes.ts';
import { PROJECT_ID } from './pubsub.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

export async function startApiProcess(
  databaseUrl: string,
  env: Record<string, string> = {},
): Promise<{ process: ManagedProcess; url: string }> {
  const server = startProcess(process.execPath, ['api/server.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      PORT: '0',
      HOST: '127.0.0.1',
      CONVEYOR_PROJECT_ID: PROJECT_ID,
      LOG_LEVEL: 'info',
      OUTBOX_LISTEN: 'false',
      ...env,
    },
  });
  try {
    const [, url] = await server.waitFor(/listening on (http:\/\/[\d.]+:\d+)/);
    return { process: server, url: url! };
  } catch (error) {
    await server.kill();
    throw error;
  }
}
