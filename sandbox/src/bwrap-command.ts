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

/**
 * The argv prefix that starts the bubblewrap supervisor in a mount namespace of its own, holding
 * only what sandboxes are made from: the system `binds`, the host's `/proc` and `/dev` (bound,
 * so a sandbox may still mount a proc of its own), the cgroup tree when sandboxes join cgroups,
 * and an empty `/tmp` where bwrap stages a new root. Each sandbox starts from a copy of its
 * parent's mount table, which bwrap reads several times while it sets up, so this keeps every
 * start's cost apart from how many mounts the host has (a Docker host's overlays: ~2 ms of CPU
 * per start with 150 mounts). Needs root (no user namespace is made for it).
 */
export function supervisorNamespace(options: {
  bwrap: string;
  binds: readonly string[];
  cgroups: boolean;
}): string[] {
  return [
    options.bwrap,
    '--die-with-parent',
    ...options.binds,
    '--bind',
    '/proc',
    '/proc',
    '--dev-bind',
    '/dev',
    '/dev',
    ...(options.cgroups ? ['--bind', '/sys/fs/cgroup', '/sys/fs/cgroup'] : []),
    '--dir',
    '/tmp',
    '--remount-ro',
    '/',
    '--',
  ];
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
