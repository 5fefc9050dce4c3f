import { describe, expect, it } from 'vitest';
import { encodeJob, resolveRequest } from './launcher.ts';
import { OutputCapture } from './output-capture.ts';
import { DEFAULT_LIMITS } from './types.ts';

describe('job encoding', () => {
  it('frames the job as a length line, JSON, then stdin bytes', () => {
    const bytes = encodeJob(
      { cmd: ['python3', 'a.py'], files: { 'a.py': 'print(1)' }, stdin: 'in' },
      DEFAULT_LIMITS,
      {
        memoryByRlimit: false,
        pidsByRlimit: true,
      },
    );
    const length = Number(bytes.subarray(0, 10).toString());
    expect(bytes[10]).toBe(0x0a);
    const job = JSON.parse(bytes.subarray(11, 11 + length).toString());
    expect(job.cmd).toEqual(['python3', 'a.py']);
    expect(Buffer.from(job.files['a.py'], 'base64').toString()).toBe('print(1)');
    expect(job.rlimits.map((r: [string]) => r[0])).toEqual([
      'RLIMIT_CPU',
      'RLIMIT_FSIZE',
      'RLIMIT_CORE',
      'RLIMIT_NPROC',
    ]);
    expect(job.env.PATH).toBe('/usr/bin:/bin');
    expect(bytes.subarray(11 + length).toString()).toBe('in');
  });

  it('rejects paths leaving the work dir and bad limits', () => {
    for (const rel of ['/etc/x', '../x', 'a/../../x', '', 'a//b']) {
      expect(() => resolveRequest({ cmd: ['true'], files: { [rel]: '' } })).toThrow(/leaves the work dir/);
    }
    expect(() => resolveRequest({ cmd: ['true'], limits: { memoryBytes: Number.NaN } })).toThrow(
      /memoryBytes/,
    );
    expect(() => resolveRequest({ cmd: 'python3' as unknown as string[] })).toThrow(/non-empty array/);
    expect(resolveRequest({ cmd: ['true'], limits: { wallMs: 5 } }).limits).toMatchObject({
      wallMs: 5,
      pids: DEFAULT_LIMITS.pids,
    });
  });
});

describe('OutputCapture', () => {
  it('keeps the first bytes, counts the rest, and signals the overflow once', () => {
    let overflows = 0;
    const capture = new OutputCapture(5, () => overflows++);
    capture.push(Buffer.from('abc'));
    expect(capture.truncated).toBe(false);
    capture.push(Buffer.from('defg'));
    capture.push(Buffer.from('hij'));
    expect(capture.text()).toBe('abcde');
    expect(capture.total).toBe(10);
    expect(capture.truncated).toBe(true);
    expect(overflows).toBe(1);
  });
});
