/**
 * Values of command-line flags. Each bad value is a `ConfigError` that names the flag, so the CLI
 * prints it as a short block instead of failing somewhere deeper with a stack trace.
 */
import { ConfigError } from '@toolgym/env-kit';

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
  if (value.trim() === '' || !Number.isInteger(n))
    throw new ConfigError(`${flag} ${value} is not a whole number`);
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
    throw new ConfigError(
      `${flag} ${value} is not a port`,
      'give a port from 1 to 65535, or 0 for any free port',
    );
  return n;
}

/** One of `choices`. */
export function oneOf<T extends string>(value: string, choices: readonly T[], flag: string): T {
  if (!(choices as readonly string[]).includes(value))
    throw new ConfigError(`${flag} ${value} is not known`, `use ${choices.join(', ')}`);
  return value as T;
}
