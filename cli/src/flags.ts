/**
 * Values of command-line flags. Each bad value is a `ConfigError` that names the flag, so the CLI
 * prints it as a short block instead of failing somewhere deeper with a stack trace.
 */
import { ConfigError, PortInUseError } from '@toolgym/env-kit';

/** `--options '<json>'`: environment options, a JSON object. */
export function environmentOptions(json: string | undefined): Record<string, unknown> | undefined {
  if (json === undefined) return undefined;
  let options: unknown;
  try {
    options = JSON.parse(json);
  } catch (error) {
    throw new ConfigError(
      `--options is not valid JSON: ${(error as Error).message}`,
      `write e.g. --options '{"dataset":"spider:/path"}'`,
    );
  }
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    throw new ConfigError('--options must be a JSON object', `write e.g. --options '{"seed":1}'`);
  return options as Record<string, unknown>;
}

/** Repeated `key=value` flags as a record. */
export function keyValues(pairs: readonly string[], flag: string): Record<string, string> {
  return Object.fromEntries(
    pairs.map((pair) => {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new ConfigError(`${flag} ${pair} is not key=value`, `e.g. ${flag} apiKey=…`);
      return [pair.slice(0, eq), pair.slice(eq + 1)];
    }),
  );
}

export function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new ConfigError(`${flag} ${value} is not a whole number ≥ 1`);
  return n;
}

/** A whole number, any sign (seeds). */
export function wholeNumber(value: string, flag: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n)) throw new ConfigError(`${flag} ${value} is not a whole number`);
  return n;
}

/** A finite number from `min` to `max`. */
export function numberIn(value: string, flag: string, min: number, max = Number.POSITIVE_INFINITY): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max)
    throw new ConfigError(
      `${flag} ${value} is not a number from ${min}${max === Number.POSITIVE_INFINITY ? ' up' : ` to ${max}`}`,
    );
  return n;
}

/** A TCP port: 0 (any free port) to 65535. */
export function portNumber(value: string, flag: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 0 || n > 65535)
    throw new ConfigError(`${flag} ${value} is not a port`, 'give a port from 1 to 65535, or 0 for any free port');
  return n;
}

/** One of `choices`. */
export function oneOf<T extends string>(value: string, choices: readonly T[], flag: string): T {
  if (!(choices as readonly string[]).includes(value))
    throw new ConfigError(`${flag} ${value} is not known`, `use ${choices.join(', ')}`);
  return value as T;
}

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
