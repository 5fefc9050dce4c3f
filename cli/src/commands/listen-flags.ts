import type { ListenOptions } from '@toolgym/http';
import type { Command } from 'commander';
import { positiveInt } from '../flags.ts';

/** The flags every `… serve` command takes about who may reach it and what it logs (`@toolgym/http`). */
export function addListenFlags(command: Command): Command {
  return command
    .option(
      '--allow-host <name...>',
      'Host names to answer to besides loopback and the bound address (`*`: any)',
    )
    .option('--allow-origin <origin...>', "browser origins allowed besides the server's own pages (`*`: any)")
    .option('--max-body-bytes <n>', 'largest request body accepted, in bytes')
    .option('--log-requests', 'write one line per request to stderr');
}

export interface ListenFlags {
  allowHost?: string[];
  allowOrigin?: string[];
  maxBodyBytes?: string;
  logRequests?: boolean;
}

export function listenOptionsOf(flags: ListenFlags): ListenOptions {
  return {
    ...(flags.allowHost ? { allowedHosts: flags.allowHost } : {}),
    ...(flags.allowOrigin ? { allowedOrigins: flags.allowOrigin } : {}),
    ...(flags.maxBodyBytes !== undefined ? { maxBodyBytes: positiveInt(flags.maxBodyBytes, '--max-body-bytes') } : {}),
    logRequests: flags.logRequests ?? false,
    log: (line) => process.stderr.write(`${line}\n`),
  };
}
