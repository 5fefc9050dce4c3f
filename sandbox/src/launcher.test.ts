import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { encodeJob, inProcessMode, nprocCountsPerUserNamespace, resolveRequest } from './launcher.ts';
import { OutputCapture } from './output-capture.ts';
import { DEFAULT_LIMITS } from './types.ts';

describe('job encoding', () => {
  it('frames the job as a 4-byte length, marshal data, then stdin bytes, readable by python3', () => {
    const bytes = encodeJob(
      {
        cmd: ['python3', 'a.py'],
        files: { 'a.py': 'print(1)', 'data.bin': new Uint8Array([0, 255]) },
        stdin: 'in',
      },
      { ...DEFAULT_LIMITS, fileBytes: 5 * 2 ** 30 },
      { memoryByRlimit: false, pidsByRlimit: true },
      '/usr/bin/python3',
    );
    const length = bytes.readUInt32BE(0);
    const decoded = spawnSync(
      '/usr/bin/python3',
      [
        '-c',
        'import marshal, sys, json; j = marshal.loads(sys.stdin.buffer.read()); j["files"] = {k: list(v) for k, v in j["files"].items()}; print(json.dumps(j))',
      ],
      { input: bytes.subarray(4, 4 + length), encoding: 'utf8' },
    );
    expect(decoded.stderr).toBe('');
    const job = JSON.parse(decoded.stdout);
    expect(job.cmd).toEqual(['python3', 'a.py']);
    expect(job.files['a.py']).toEqual([...Buffer.from('print(1)')]);
    expect(job.files['data.bin']).toEqual([0, 255]);
    expect(job.inProcess).toBe('script');
    // A limit past 32 bits survives the trip (marshal's long form).
    expect(job.rlimits).toContainEqual(['RLIMIT_FSIZE', 5 * 2 ** 30, 5 * 2 ** 30]);
    expect(job.rlimits.map((r: [string]) => r[0])).toEqual([
      'RLIMIT_CPU',
      'RLIMIT_FSIZE',
      'RLIMIT_CORE',
      'RLIMIT_NPROC',
    ]);
    expect(job.env.PATH).toBe('/usr/bin:/bin');
    expect(bytes.subarray(4 + length).toString()).toBe('in');
  });

  it('runs only plain python3 commands in the launcher, and execs the rest', () => {
    const py = '/usr/bin/python3';
    expect(inProcessMode(['python3', '-c', 'print(1)', 'arg'], undefined, py)).toBe('command');
    expect(inProcessMode([py, '-m', 'pkg.mod'], {}, py)).toBe('module');
    expect(inProcessMode(['python3', 'tests.py'], { GREETING: 'hi' }, py)).toBe('script');
    // interpreter options, another interpreter, or an environment the interpreter reads at start-up
    expect(inProcessMode(['python3', '-u', 'tests.py'], undefined, py)).toBeNull();
    expect(inProcessMode(['python3'], undefined, py)).toBeNull();
    expect(inProcessMode(['python3', '-c'], undefined, py)).toBeNull();
    expect(inProcessMode(['python3.11', 'tests.py'], undefined, py)).toBeNull();
    expect(inProcessMode(['sh', '-c', 'python3 x.py'], undefined, py)).toBeNull();
    for (const key of ['PYTHONPATH', 'PYTHONHASHSEED', 'LANG', 'LC_ALL', 'HOME']) {
      expect(inProcessMode(['python3', 'tests.py'], { [key]: 'x' }, py), key).toBeNull();
    }
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

describe('RLIMIT_NPROC scope', () => {
  it('counts per user namespace from Linux 5.14 on', () => {
    expect(nprocCountsPerUserNamespace('6.18.44-fc-v1300')).toBe(true);
    expect(nprocCountsPerUserNamespace('5.14.0-362.el9.x86_64')).toBe(true);
    expect(nprocCountsPerUserNamespace('5.10.0-28-amd64')).toBe(false);
    expect(nprocCountsPerUserNamespace('4.19.0')).toBe(false);
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
