import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  BLOCKED_SYSCALLS,
  CLONE_SYSCALL,
  CLONE3_SYSCALL,
  hostSeccompArch,
  type SeccompArch,
  seccompProgram,
} from '../src/seccomp.ts';
import { probedCalls, probeOnHost, refusal } from './syscall-probe.ts';

/** The kernel's own numbering, from the installed headers (linux-libc-dev). */
const HEADERS: Record<SeccompArch, string> = {
  x86_64: '/usr/include/x86_64-linux-gnu/asm/unistd_64.h',
  aarch64: '/usr/include/asm-generic/unistd.h',
};

function headerNumbers(file: string): Map<string, number> {
  const numbers = new Map<string, number>();
  for (const match of readFileSync(file, 'utf8').matchAll(/^#define __NR(?:3264)?_(\w+)\s+(\d+)\s*$/gm)) {
    numbers.set(match[1]!, Number(match[2]));
  }
  return numbers;
}

/** What the filter must refuse whatever else it does: tracing, mounts, modules, kexec, the keyring, namespaces. */
const REQUIRED = [
  'ptrace',
  'process_vm_readv',
  'process_vm_writev',
  'mount',
  'umount2',
  'pivot_root',
  'open_by_handle_at',
  'init_module',
  'finit_module',
  'delete_module',
  'kexec_load',
  'keyctl',
  'add_key',
  'request_key',
  'bpf',
  'perf_event_open',
  'userfaultfd',
  'io_uring_setup',
  'unshare',
  'setns',
];

describe('seccomp program', () => {
  it('refuses at least ptrace, mounts, kernel modules, the keyring, bpf, io_uring and namespaces', () => {
    for (const call of REQUIRED) expect(Object.keys(probedCalls()), call).toContain(call);
  });

  for (const arch of ['x86_64', 'aarch64'] as const) {
    const header = HEADERS[arch];
    const haveHeader = existsSync(header);
    if (!haveHeader)
      console.warn(
        `SKIP ${arch} syscall numbers check: ${header} is missing (apt-get install linux-libc-dev)`,
      );
    it.skipIf(!haveHeader)(`uses the kernel's ${arch} syscall numbers (${header})`, () => {
      const numbers = headerNumbers(header);
      for (const [name, byArch] of Object.entries(BLOCKED_SYSCALLS)) {
        if (byArch[arch] === undefined) expect(numbers.has(name), `${name} exists on ${arch}`).toBe(false);
        else expect(byArch[arch], name).toBe(numbers.get(name));
      }
      expect(CLONE_SYSCALL[arch]).toBe(numbers.get('clone'));
      expect(CLONE3_SYSCALL[arch]).toBe(numbers.get('clone3'));
    });

    it(`checks the architecture first and jumps only forward, inside the program (${arch})`, () => {
      const program = seccompProgram(arch);
      const count = program.length / 8;
      expect(program.readUInt16LE(0)).toBe(0x20); // ld [arch]
      expect(program.readUInt32LE(4)).toBe(4);
      expect(program.readUInt16LE(8)).toBe(0x15); // jeq AUDIT_ARCH_…
      for (let i = 0; i < count; i++) {
        const code = program.readUInt16LE(i * 8);
        if ((code & 0x07) === 0x05) {
          expect(i + 1 + program[i * 8 + 2]!).toBeLessThan(count);
          expect(i + 1 + program[i * 8 + 3]!).toBeLessThan(count);
        }
      }
      expect(program.readUInt16LE((count - 1) * 8)).toBe(0x06); // ends in a return
    });
  }
});

const arch = hostSeccompArch();
const root = process.getuid?.() === 0;
if (!arch) console.warn(`SKIP seccomp kernel tests: no syscall table for ${process.arch}`);
if (!root) console.warn('SKIP the "works outside" half: calls such as mount only work outside as root');

describe.skipIf(!arch)('seccomp filter in the kernel', () => {
  it.skipIf(!root)(
    'every refused call works outside the filter (reaches the kernel: success or an argument error)',
    () => {
      const { errnos } = probeOnHost();
      for (const call of Object.keys(probedCalls())) expect(errnos?.[call], call).not.toBe(refusal(call));
    },
  );

  it('refuses every listed call under the filter, even to root', () => {
    const { errnos } = probeOnHost(seccompProgram(arch!));
    for (const call of Object.keys(probedCalls())) expect(errnos?.[call], call).toBe(refusal(call));
  });

  it('kills a process that calls with another architecture’s numbering', () => {
    const other = arch === 'x86_64' ? 'aarch64' : 'x86_64';
    expect(probeOnHost(seccompProgram(other)).signal).toBe('SIGSYS');
  });
});
