import { SandboxError } from './errors.ts';

/**
 * The seccomp filter of a sandbox: a classic BPF program (`struct sock_filter[]`, the format
 * bubblewrap's `--seccomp FD` loads) generated here, so no libseccomp is needed. It refuses, with
 * EPERM, the system calls a program needs only to attack the kernel or escape its namespaces:
 * tracing other processes, mounting, kernel modules and kexec, the kernel keyring, eBPF,
 * perf events, userfaultfd, io_uring, new namespaces, and host-wide administration. Everything
 * else is allowed. A call made with another architecture's numbering (an i386 binary, the x32
 * ABI) kills the process, since the numbers below would mean other calls there.
 */

export type SeccompArch = 'x86_64' | 'aarch64';

/** System calls the filter refuses, with their numbers per architecture (`asm/unistd.h`). */
export const BLOCKED_SYSCALLS: Readonly<Record<string, Partial<Record<SeccompArch, number>>>> = {
  // reading or steering other processes
  ptrace: { x86_64: 101, aarch64: 117 },
  process_vm_readv: { x86_64: 310, aarch64: 270 },
  process_vm_writev: { x86_64: 311, aarch64: 271 },
  pidfd_getfd: { x86_64: 438, aarch64: 438 },
  kcmp: { x86_64: 312, aarch64: 272 },
  // the mount table and the root
  mount: { x86_64: 165, aarch64: 40 },
  umount2: { x86_64: 166, aarch64: 39 },
  pivot_root: { x86_64: 155, aarch64: 41 },
  chroot: { x86_64: 161, aarch64: 51 },
  open_tree: { x86_64: 428, aarch64: 428 },
  move_mount: { x86_64: 429, aarch64: 429 },
  fsopen: { x86_64: 430, aarch64: 430 },
  fsconfig: { x86_64: 431, aarch64: 431 },
  fsmount: { x86_64: 432, aarch64: 432 },
  fspick: { x86_64: 433, aarch64: 433 },
  mount_setattr: { x86_64: 442, aarch64: 442 },
  open_by_handle_at: { x86_64: 304, aarch64: 265 },
  // the kernel itself
  init_module: { x86_64: 175, aarch64: 105 },
  finit_module: { x86_64: 313, aarch64: 273 },
  delete_module: { x86_64: 176, aarch64: 106 },
  kexec_load: { x86_64: 246, aarch64: 104 },
  kexec_file_load: { x86_64: 320, aarch64: 294 },
  uselib: { x86_64: 134 },
  iopl: { x86_64: 172 },
  ioperm: { x86_64: 173 },
  // the kernel keyring, which no namespace separates
  keyctl: { x86_64: 250, aarch64: 219 },
  add_key: { x86_64: 248, aarch64: 217 },
  request_key: { x86_64: 249, aarch64: 218 },
  // large kernel attack surfaces a program under test has no use for
  bpf: { x86_64: 321, aarch64: 280 },
  perf_event_open: { x86_64: 298, aarch64: 241 },
  userfaultfd: { x86_64: 323, aarch64: 282 },
  io_uring_setup: { x86_64: 425, aarch64: 425 },
  io_uring_enter: { x86_64: 426, aarch64: 426 },
  io_uring_register: { x86_64: 427, aarch64: 427 },
  fanotify_init: { x86_64: 300, aarch64: 262 },
  lookup_dcookie: { x86_64: 212, aarch64: 18 },
  // new namespaces (clone with namespace flags is refused by argument, below)
  unshare: { x86_64: 272, aarch64: 97 },
  setns: { x86_64: 308, aarch64: 268 },
  // host-wide administration
  acct: { x86_64: 163, aarch64: 89 },
  swapon: { x86_64: 167, aarch64: 224 },
  swapoff: { x86_64: 168, aarch64: 225 },
  reboot: { x86_64: 169, aarch64: 142 },
  syslog: { x86_64: 103, aarch64: 116 },
  quotactl: { x86_64: 179, aarch64: 60 },
  quotactl_fd: { x86_64: 443, aarch64: 443 },
  settimeofday: { x86_64: 164, aarch64: 170 },
  clock_settime: { x86_64: 227, aarch64: 112 },
};

/** `clone` is allowed (fork and threads use it) unless its flags ask for a new namespace. */
export const CLONE_SYSCALL: Record<SeccompArch, number> = { x86_64: 56, aarch64: 220 };
/**
 * `clone3` passes its flags in memory, where a filter cannot look: it fails with ENOSYS, and
 * the C library falls back to `clone` (as under Docker's default profile).
 */
export const CLONE3_SYSCALL: Record<SeccompArch, number> = { x86_64: 435, aarch64: 435 };

/** CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET */
export const CLONE_NAMESPACE_FLAGS = 0x7e020000;

const AUDIT_ARCH: Record<SeccompArch, number> = { x86_64: 0xc000003e, aarch64: 0xc00000b7 };
/** x86_64 numbers with this bit set are x32-ABI calls. */
const X32_SYSCALL_BIT = 0x40000000;

const EPERM = 1;
const ENOSYS = 38;
const RET_ALLOW = 0x7fff0000;
const RET_ERRNO = 0x00050000;
const RET_KILL_PROCESS = 0x80000000;

// struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6] (little-endian here).
const OFFSET_NR = 0;
const OFFSET_ARCH = 4;
const OFFSET_ARG0_LOW = 16;

const LD_W_ABS = 0x20;
const JEQ_K = 0x15;
const JGE_K = 0x35;
const JSET_K = 0x45;
const RET_K = 0x06;

/** The architecture of this Node process, in the filter's terms; `undefined` where no table exists. */
export function hostSeccompArch(): SeccompArch | undefined {
  if (process.arch === 'x64') return 'x86_64';
  if (process.arch === 'arm64') return 'aarch64';
  return undefined;
}

type Label = 'allow' | 'eperm' | 'enosys' | 'kill';
interface Instruction {
  code: number;
  k: number;
  /** Jump targets for conditional jumps: a label, or `next` (fall through). */
  jt?: Label | 'next';
  jf?: Label | 'next';
}

/** The filter for `arch` as the bytes of a `struct sock_filter` array. */
export function seccompProgram(arch: SeccompArch): Buffer {
  const program: Instruction[] = [
    { code: LD_W_ABS, k: OFFSET_ARCH },
    { code: JEQ_K, k: AUDIT_ARCH[arch], jt: 'next', jf: 'kill' },
    { code: LD_W_ABS, k: OFFSET_NR },
  ];
  if (arch === 'x86_64') program.push({ code: JGE_K, k: X32_SYSCALL_BIT, jt: 'kill', jf: 'next' });
  for (const numbers of Object.values(BLOCKED_SYSCALLS)) {
    const nr = numbers[arch];
    if (nr !== undefined) program.push({ code: JEQ_K, k: nr, jt: 'eperm', jf: 'next' });
  }
  program.push({ code: JEQ_K, k: CLONE3_SYSCALL[arch], jt: 'enosys', jf: 'next' });
  program.push({ code: JEQ_K, k: CLONE_SYSCALL[arch], jt: 'next', jf: 'allow' });
  program.push({ code: LD_W_ABS, k: OFFSET_ARG0_LOW });
  program.push({ code: JSET_K, k: CLONE_NAMESPACE_FLAGS, jt: 'eperm', jf: 'allow' });
  const returns: Record<Label, number> = {
    allow: RET_ALLOW,
    eperm: RET_ERRNO | EPERM,
    enosys: RET_ERRNO | ENOSYS,
    kill: RET_KILL_PROCESS,
  };
  const labels = Object.keys(returns) as Label[];
  const at = (label: Label) => program.length + labels.indexOf(label);
  const bytes = Buffer.alloc((program.length + labels.length) * 8);
  const offset = (from: number, target: Label | 'next' | undefined) => {
    if (target === undefined || target === 'next') return 0;
    const jump = at(target) - from - 1;
    // Classic BPF jumps are 8-bit: a longer block list would need a jump table.
    if (jump > 255)
      throw new SandboxError('sandbox_failed', 'seccomp filter: a jump exceeds 255 instructions');
    return jump;
  };
  program.forEach((instruction, i) => {
    bytes.writeUInt16LE(instruction.code, i * 8);
    bytes.writeUInt8(offset(i, instruction.jt), i * 8 + 2);
    bytes.writeUInt8(offset(i, instruction.jf), i * 8 + 3);
    bytes.writeUInt32LE(instruction.k >>> 0, i * 8 + 4);
  });
  labels.forEach((label, i) => {
    const at = (program.length + i) * 8;
    bytes.writeUInt16LE(RET_K, at);
    bytes.writeUInt32LE(returns[label] >>> 0, at + 4);
  });
  return bytes;
}

/** The seccomp program for this machine, or a configuration error naming the way out. */
export function seccompFor(backend: string): Buffer {
  const arch = hostSeccompArch();
  if (!arch) {
    throw new SandboxError(
      'backend_unavailable',
      `${backend}: no seccomp syscall table for ${process.arch}`,
      'pass seccomp: false to run without the filter',
    );
  }
  return seccompProgram(arch);
}
