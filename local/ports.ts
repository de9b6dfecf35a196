/**
 * A port for a server that another process will open later (a child told its port on the command
 * line). Asking the kernel for port 0 is no good for that: it answers from its ephemeral range, the
 * range outgoing connections take their local ports from, so under load a client socket can hold
 * the port by the time the child listens (EADDRINUSE). This picks at random below that range and
 * checks that the port can be bound now; only another process picking a port the same way can
 * still take it first, which the randomness makes rare.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';

/** Lowest port handed out; below it live well-known and registered services. */
const LOWEST = 10_000;
/** Linux's default ephemeral range starts here; macOS's higher. */
const DEFAULT_EPHEMERAL_START = 32_768;
const ATTEMPTS = 100;

/** A port free on `host` now, outside the ephemeral range. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const highest = ephemeralStart() - 1;
  if (highest - LOWEST >= 1_000) {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const port = LOWEST + Math.floor(Math.random() * (highest - LOWEST + 1));
      if (await canListen(port, host)) return port;
    }
  }
  // A machine whose ephemeral range starts low (or a crowded one): the kernel's choice.
  return listen(0, host);
}

function ephemeralStart(): number {
  try {
    const [start] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/);
    const value = Number(start);
    return Number.isInteger(value) && value > 0 ? value : DEFAULT_EPHEMERAL_START;
  } catch {
    return DEFAULT_EPHEMERAL_START;
  }
}

async function canListen(port: number, host: string): Promise<boolean> {
  return listen(port, host).then(
    () => true,
    () => false,
  );
}

/** Binds `port` on `host`, closes it again and resolves to the port bound. */
function listen(port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(port, host, () => {
      const bound = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(bound));
    });
  });
}
