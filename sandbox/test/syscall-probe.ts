import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BLOCKED_SYSCALLS,
  CLONE_SYSCALL,
  CLONE3_SYSCALL,
  hostSeccompArch,
  type SeccompArch,
} from '../src/seccomp.ts';

/** The probe (fixtures/syscall-probe.py): makes each refused call with harmless arguments. */
export const PROBE_SOURCE = readFileSync(
  path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/syscall-probe.py'),
  'utf8',
);

export const EPERM = 1;
export const ENOSYS = 38;

/** The calls the probe makes on `arch`, by name: every refused call, clone with CLONE_NEWUSER, clone3. */
export function probedCalls(arch: SeccompArch = hostSeccompArch() ?? 'x86_64'): Record<string, number> {
  const calls: Record<string, number> = {};
  for (const [name, numbers] of Object.entries(BLOCKED_SYSCALLS)) {
    const nr = numbers[arch];
    if (nr !== undefined) calls[name] = nr;
  }
  calls.clone_newuser = CLONE_SYSCALL[arch];
  calls.clone3 = CLONE3_SYSCALL[arch];
  return calls;
}

/** What the filter answers each probed call with. */
export function refusal(call: string): number {
  return call === 'clone3' ? ENOSYS : EPERM;
}

/** Runs the probe as a host process (optionally under `filter`): errno per call, or the signal that killed it. */
export function probeOnHost(filter?: Buffer): { errnos?: Record<string, number>; signal: string | null } {
  const args = ['-c', PROBE_SOURCE, JSON.stringify(probedCalls())];
  if (filter) args.push(filter.toString('hex'));
  const result = spawnSync('/usr/bin/python3', args, { encoding: 'utf8' });
  if (result.signal) return { signal: result.signal };
  if (result.status !== 0) throw new Error(`syscall probe failed: ${result.stderr}`);
  return { errnos: JSON.parse(result.stdout), signal: null };
}
