import { existsSync, lstatSync, readlinkSync } from 'node:fs';
import { launcherCommand, WORK_DIR } from './launcher.ts';

/** Host directories a sandbox sees, read-only, at the same place. */
export const SYSTEM_PATHS = ['/usr', '/bin', '/lib', '/lib64', '/sbin'];

/**
 * The bwrap command of one sandbox, on the host or inside a container: new user, pid, network,
 * ipc, uts and cgroup namespaces; `binds` of the system directories and nothing else; private
 * tmpfs `/work` and `/tmp` of `diskBytes`; a read-only root; the seccomp program on fd 3 when
 * `seccomp`; and the launcher, waiting for its job.
 */
export function bwrapCommand(options: {
  bwrap: string;
  binds: readonly string[];
  diskBytes: number;
  seccomp: boolean;
  python: string;
}): string[] {
  return [
    options.bwrap,
    '--unshare-all',
    '--unshare-user',
    // The seccomp filter refuses every way to make a user namespace; without it, bwrap must.
    ...(options.seccomp ? [] : ['--disable-userns']),
    '--die-with-parent',
    '--new-session',
    '--hostname',
    'sandbox',
    ...options.binds,
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    '--size',
    String(options.diskBytes),
    '--tmpfs',
    '/tmp',
    '--size',
    String(options.diskBytes),
    '--perms',
    '0755',
    '--tmpfs',
    WORK_DIR,
    // The root bwrap builds is its own tmpfs: make it read-only too, so only /work and /tmp are writable.
    '--remount-ro',
    '/',
    '--chdir',
    WORK_DIR,
    ...(options.seccomp ? ['--seccomp', '3'] : []),
    ...launcherCommand(options.python),
  ];
}

/**
 * `--ro-bind` for each existing path; a symlink (merged /usr) is recreated as the same symlink.
 * The Docker image mirrors this host's layout, so the same binds serve inside its containers.
 */
export function systemBinds(paths: readonly string[]): string[] {
  const args: string[] = [];
  for (const p of paths) {
    if (!existsSync(p)) continue;
    if (lstatSync(p).isSymbolicLink()) args.push('--symlink', readlinkSync(p), p);
    else args.push('--ro-bind', p, p);
  }
  return args;
}

/** `command` itself when it has a slash, else where PATH finds it (or `command`, to fail later). */
export function absolutePath(command: string): string {
  if (command.includes('/')) return command;
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
    const candidate = `${dir}/${command}`;
    if (dir && existsSync(candidate)) return candidate;
  }
  return command;
}
