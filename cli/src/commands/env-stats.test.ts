import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { TOOLGYM_BIN } from './test-support.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const stats = (...args: string[]) =>
  spawnSync(process.execPath, [TOOLGYM_BIN, 'env', 'tasks', ...args, '--stats'], {
    encoding: 'utf8',
    cwd: root,
  });

describe('toolgym env tasks --stats', () => {
  it.each(['compose', 'sql', 'search', 'code', 'clinical', 'games'])(
    'finds no leak in the built-in environment %s',
    (id) => {
      const run = stats(id);
      expect(run.stderr).toBe('');
      expect(run.status, run.stdout).toBe(0);
      expect(run.stdout).toMatch(/^ {2}test {7}\s+\d+/m);
      expect(run.stdout).toMatch(/held out: (\d+ \S+ unit\(s\) only in test|not declared)/);
    },
  );

  it('exits 1 on a deliberately leaky task set and names the leaks', () => {
    const fixture = path.join(root, 'environments/kit/test/fixtures/template-env.ts');
    expect(stats(fixture).status).toBe(0);
    const leaky = stats(fixture, '--options', '{"leak":true}');
    expect(leaky.status).toBe(1);
    expect(leaky.stdout).toContain('LEAK: 1 test task(s) have no template unseen in train');
    expect(leaky.stdout).toContain('population/Peru-again: population');
    expect(leaky.stdout).toMatch(
      /LEAK: 2 test prompt\(s\) have every word 8-gram in train prompts\n {4}population\/Peru-again\n {4}capital\/copy/,
    );
  });
});
