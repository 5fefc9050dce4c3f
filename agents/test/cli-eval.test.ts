import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { workspaceRoot } from '@toolgym/env-kit';
import { TrajectorySchema } from '@toolgym/protocol';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const cli = path.join(workspaceRoot(), 'cli/bin/toolgym.js');

describe('toolgym eval', () => {
  it('prints pass@k and reward components and writes one valid trajectory per line', async () => {
    const out = path.join(mkdtempSync(path.join(tmpdir(), 'toolgym-eval-')), 'oracle.jsonl');
    const { stdout } = await run(process.execPath, [
      cli,
      'eval',
      '--env',
      'compose',
      '--policy',
      'oracle',
      '-n',
      '2',
      '--limit',
      '3',
      '--options',
      '{"tasksPerDepth":20}',
      '--out',
      out,
      '--quiet',
    ]);
    expect(stdout).toContain('pass@1 100.0%  pass@2 100.0%');
    expect(stdout).toMatch(/components: composed 1, correct 1, progress 1, valid_calls 1/);
    expect(stdout).toContain('failures by reason: -');
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    expect(lines.length).toBe(6);
    for (const line of lines) expect(TrajectorySchema.parse(JSON.parse(line)).envId).toBe('compose');
  });

  it('fails at once, naming what to fix, on bad options', async () => {
    const bad = run(process.execPath, [
      cli,
      'eval',
      '--env',
      'compose',
      '--policy',
      'oracle',
      '--options',
      '{dataset: x}',
    ]);
    await expect(bad).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--options is not valid JSON'),
    });
  });
});
