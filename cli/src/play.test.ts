import { mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkEnvironment, loadEnvironmentModule } from '@toolgym/env-kit';
import { describe, expect, it } from 'vitest';
import { runToolgym } from './commands/test-support.ts';
import { parseCommandLine } from './play.ts';
import { scaffoldEnvironment } from './scaffold.ts';

const cliDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

describe('toolgym env play', () => {
  it('reads key=value and JSON arguments', () => {
    expect(parseCommandLine('reverse text=abc')).toEqual({ name: 'reverse', args: { text: 'abc' } });
    expect(parseCommandLine('answer answer="two words"')).toEqual({ name: 'answer', args: { answer: 'two words' } });
    expect(parseCommandLine('add n=5')).toEqual({ name: 'add', args: { n: 5 } });
    expect(parseCommandLine('x {"a": [1, 2]}')).toEqual({ name: 'x', args: { a: [1, 2] } });
    expect(() => parseCommandLine('x [1]')).not.toThrow();
    expect(() => parseCommandLine('x {"a": ')).toThrow();
  });

  it('plays a compose episode typed at the terminal, mistakes included, to reward 1', async () => {
    const options = JSON.stringify({ depths: [2], functions: ['reverse', 'upper'], alphabet: 'abc', minLength: 3, maxLength: 3, tasksPerDepth: 2, heldOutPairFraction: 0 });
    const result = await runToolgym(['env', 'play', 'compose', '--options', options, '--task', 'd2-reverse.upper-bcc'], {
      stdin: ['reverse txt=bcc', 'reverse {"text": ', 'reverse text=bcc', 'upper text=ccb', 'answer answer=CCB', ''].join('\n'),
      cwd: cliDir,
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('upper ∘ reverse("bcc")');
    expect(result.stdout).toContain("error (invalid_arguments): Invalid arguments for 'reverse': 'text': Invalid input: expected string, received undefined; arguments: Unrecognized key: \"txt\".");
    expect(result.stdout).toContain('Could not read that');
    expect(result.stdout).toContain('Reward: 1.067  (answered, 4 tool calls)');
  });
});

describe('toolgym env new', () => {
  it('scaffolds a package that loads and passes the conformance check', async () => {
    const parent = mkdtempSync(path.join(cliDir, '.scaffold-'));
    try {
      const dir = await scaffoldEnvironment('letters', parent);
      const [definition] = await loadEnvironmentModule(path.join(dir, 'src/index.ts'));
      expect(definition?.ref).toBe('letters@1');
      const report = await checkEnvironment(definition!);
      expect(report.checks.filter((c) => !c.ok)).toEqual([]);
      // It starts with a red-team suite, and the probe plays it.
      const probed = await runToolgym(['env', 'probe', path.join(dir, 'src/index.ts'), '--tasks', '2'], { cwd: cliDir });
      expect(probed.stderr).toBe('');
      expect(probed.code).toBe(0);
      expect(probed.stdout).toMatch(/answer-without-counting\s+guess\s+4\s+0\.000\s+0\.000\s+0\.000\s+pass/);
      expect(probed.stdout).toMatch(/tool-spam\s+generic/);
      await expect(scaffoldEnvironment('letters', parent)).rejects.toThrow(/already exists/);
      await expect(scaffoldEnvironment('Bad Name', parent)).rejects.toThrow(/not a valid environment name/);
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });

  it('probe exits 1 when an attack beats its ceiling, and names the episode', async () => {
    const result = await runToolgym(['env', 'probe', path.join(cliDir, 'test/fixtures/lenient-env.ts'), '--tasks', '2', '--split', 'test'], { cwd: cliDir });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/repeat-prompt\s+generic\s+2\s+1\.000\s+1\.000\s+0\.000\s+ABOVE CEILING/);
    expect(result.stdout).toContain('ATTACKS ABOVE THEIR CEILING');
  });

  it('probe refuses a split that does not exist', async () => {
    const result = await runToolgym(['env', 'probe', 'compose', '--split', 'validation'], { cwd: cliDir });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--split validation is not known.*train, test, test-iid/s);
  });

  it('suggests the closest id for a typo and exits non-zero', async () => {
    const result = await runToolgym(['env', 'tasks', 'compse'], { cwd: cliDir });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("Did you mean 'compose'?");
  });
});
