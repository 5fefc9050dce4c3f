import { hostname, networkInterfaces } from 'node:os';
import type { MiddlewareHandler } from 'hono';
import { HttpError } from './http-error.ts';

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '::1'];
const WILDCARDS = new Set(['0.0.0.0', '::']);

/** True for an address that only this machine can reach. */
export function isLoopback(host: string): boolean {
  const name = hostOf(host) ?? host;
  return LOOPBACK_NAMES.includes(name) || /^127\.\d+\.\d+\.\d+$/.test(name);
}

/**
 * The host names a server bound to `bindHost` answers to: loopback names always; the bound address
 * when it is a particular one; this machine's name and interface addresses when it is a wildcard;
 * and `extra` (`*` accepts any name).
 */
export function allowedHostNames(bindHost: string, extra: readonly string[] = []): ReadonlySet<string> | '*' {
  if (extra.includes('*')) return '*';
  const names = new Set(LOOPBACK_NAMES);
  for (const h of extra) names.add(hostOf(h) ?? h.toLowerCase());
  const bound = hostOf(bindHost) ?? bindHost;
  if (WILDCARDS.has(bound)) {
    names.add(hostname().toLowerCase());
    for (const list of Object.values(networkInterfaces()))
      for (const address of list ?? []) names.add(address.address.toLowerCase());
  } else {
    names.add(bound);
  }
  return names;
}

/**
 * Refuses a request whose `Host` is not an allowed name, or whose `Origin` (sent by browsers) is
 * neither the server's own origin nor in `origins`: a page on another site, or one an attacker's DNS
 * rebinds to this address, cannot drive the server. Clients that send no `Origin` (SDKs, curl) pass.
 */
export function hostOriginGuard(
  hosts: ReadonlySet<string> | '*',
  origins: readonly string[],
): MiddlewareHandler {
  const anyOrigin = origins.includes('*');
  const allowedOrigins = new Set(origins.map((o) => o.toLowerCase().replace(/\/+$/, '')));
  // Clients send the same few Host values over and over: parse each once.
  const verdicts = new Map<string, boolean>();
  const hostAllowed = (header: string): boolean => {
    let allowed = verdicts.get(header);
    if (allowed === undefined) {
      const host = hostOf(header);
      allowed = hosts === '*' || (host !== undefined && hosts.has(host));
      if (verdicts.size >= 1024) verdicts.clear();
      verdicts.set(header, allowed);
    }
    return allowed;
  };
  return async (c, next) => {
    const hostHeader = c.req.header('host') ?? '';
    if (!hostAllowed(hostHeader))
      throw new HttpError(403, 'host_not_allowed', `Host '${hostHeader}' is not one this server answers to`, {
        hint: 'reach it by an allowed name (loopback by default), or start it with --allow-host <name>',
      });
    const origin = c.req.header('origin');
    if (origin !== undefined && !anyOrigin) {
      const normalised = origin.toLowerCase();
      const sameOrigin = sameHost(normalised, hostHeader.toLowerCase());
      if (!sameOrigin && !allowedOrigins.has(normalised))
        throw new HttpError(403, 'origin_not_allowed', `Origin '${origin}' may not call this server`, {
          hint: 'call it from a page it serves, from a client that sends no Origin, or start it with --allow-origin <origin>',
        });
    }
    await next();
  };
}

/** `[::1]:8080` → `::1`, `Example.com:80` → `example.com`; undefined when it names no host. */
function hostOf(header: string): string | undefined {
  if (header === '') return undefined;
  try {
    const name = new URL(`http://${header}`).hostname.toLowerCase();
    return name.startsWith('[') && name.endsWith(']') ? name.slice(1, -1) : name;
  } catch {
    return undefined;
  }
}

/** True when `origin` (scheme://host[:port]) names the same host and port as the `Host` header. */
function sameHost(origin: string, hostHeader: string): boolean {
  try {
    return new URL(origin).host === new URL(`http://${hostHeader}`).host;
  } catch {
    return false;
  }
}
