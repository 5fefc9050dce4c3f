import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { TOOLGYM_BIN, temporaryDirectories } from './commands/test-support.ts';
import { formatDataReport } from './data-report.ts';

const fixtures = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../environments/clinical/test/fixtures/agentclinic',
);
const tempDir = temporaryDirectories('toolgym-cli-data-');

function toolgym(args: string[]) {
  return spawnSync(process.execPath, [TOOLGYM_BIN, ...args], { encoding: 'utf8', timeout: 120_000 });
}
const clinicalOptions = (files: string[]) => JSON.stringify({ includeBank: false, agentClinicFiles: files });

describe('data reports on the command line', () => {
  it('formats per file the counts, then each skipped or changed record with its line and reason', () => {
    const text = formatDataReport([
      {
        file: 'cases.jsonl',
        records: 3,
        loaded: 2,
        notices: [
          { skipped: false, message: 'text only' },
          { line: 2, skipped: true, message: 'not JSON' },
          { line: 3, skipped: false, message: 'withheld' },
        ],
      },
    ]);
    expect(text).toBe(
      [
        'toolgym: cases.jsonl: 3 records, 2 loaded, 1 skipped, 1 loaded with changes',
        '  cases.jsonl: changed: text only',
        '  cases.jsonl:2: skipped: not JSON',
        '  cases.jsonl:3: changed: withheld',
        '',
      ].join('\n'),
    );
    expect(formatDataReport([])).toBe('');
  });

  it('`env tasks` prints the file, the line and the reason of every skipped AgentClinic record, and the count', () => {
    const damaged = path.join(fixtures, 'agentclinic_damaged.jsonl');
    const run = toolgym(['env', 'tasks', 'clinical', '--options', clinicalOptions([damaged])]);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr).toContain(`toolgym: ${damaged}: 11 records, 2 loaded, 9 skipped, 0 loaded with changes`);
    expect(run.stderr).toContain(`${damaged}:2: skipped: blank line`);
    expect(run.stderr).toMatch(new RegExp(`${damaged}:3: skipped: not JSON: `));
    expect(run.stderr).toContain(`${damaged}:6: skipped: OSCE_Examination has no Correct_Diagnosis`);
    expect(run.stderr).toContain(`${damaged}:8: skipped: no answer is marked correct`);
    expect(run.stdout).toContain('2 of 2 tasks');
  });

  it('refuses a file with no AgentClinic case up front: a message and a hint, no stack trace', async () => {
    const dir = await tempDir();
    const csv = path.join(dir, 'nejm.csv');
    await writeFile(csv, 'question,answer\nWhat is it?,Scurvy\n');
    const run = toolgym(['env', 'tasks', 'clinical', '--options', clinicalOptions([csv])]);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(`toolgym: '${csv}' holds no AgentClinic case: 2 lines, none loads (line 1: not JSON`);
    expect(run.stderr).toMatch(/→ give a JSONL file of AgentClinic's MedQA/);
    expect(run.stderr).not.toMatch(/^\s+at /m);
  });

  it('`eval` prints the report before playing, and the oracle passes every NEJM test case', () => {
    const nejm = path.join(fixtures, 'agentclinic_nejm.jsonl');
    const run = toolgym([
      'eval',
      '--env',
      'clinical',
      '--policy',
      'oracle',
      '-n',
      '1',
      '--options',
      clinicalOptions([nejm]),
      '--json',
      '--quiet',
    ]);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr).toContain(`toolgym: ${nejm}: 15 records, 15 loaded, 0 skipped`);
    expect(run.stderr).toMatch(/15 NEJM records have an image/);
    const summary = JSON.parse(run.stdout) as { passAt1: number; tasks: number };
    expect(summary.tasks).toBeGreaterThan(0);
    expect(summary.passAt1).toBe(1);
  });
});
