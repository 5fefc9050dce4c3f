/**
 * The life of a command that serves (env serve --http, policy serve, replay serve, learner serve,
 * train --serve): starting on the address its flags chose, and stopping on a signal.
 */
import { ConfigError } from '@toolgym/env-kit';
import { PortInUseError } from '@toolgym/http';

/**
 * Starts a server on the address a flag chose. The operating system refusing the address (a port
 * already in use, one this user may not bind, a host that is not this machine's) is a
 * configuration error naming the flag, whichever server met it.
 */
export async function listening<T>(
  flag: string,
  address: { host: string; port: number },
  start: () => Promise<T>,
): Promise<T> {
  try {
    return await start();
  } catch (error) {
    const { host, port } = address;
    const code = (error as NodeJS.ErrnoException).code;
    if (error instanceof PortInUseError || code === 'EADDRINUSE')
      throw new PortInUseError(host, port, `pick another port with ${flag}, or 0 for any free port`);
    if (code === 'EACCES' || code === 'EADDRNOTAVAIL')
      throw new ConfigError(
        `cannot listen on ${host}:${port} (${code})`,
        code === 'EACCES'
          ? `ports below 1024 need root: pick another port with ${flag}`
          : "the host is not one of this machine's addresses: bind 127.0.0.1 or 0.0.0.0",
      );
    throw error;
  }
}

/** Keeps serving until SIGINT or SIGTERM, then runs `close` and exits 0. */
export function closeOnSignal(close: () => Promise<unknown>): void {
  const stop = async () => {
    await close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
