import type { Task } from '@toolgym/protocol';
import { describe, expect, it } from 'vitest';
import templateEnv from '../test/fixtures/template-env.ts';
import { Environment } from './episode.ts';
import { checkSplits, formatSplitReport, promptCoverage, splitReport } from './split-check.ts';

const make = (options: unknown) => new Environment(templateEnv, templateEnv.parseConfig(options));

describe('checkSplits', () => {
  it('counts tasks and units per split and names the held-out units', async () => {
    const report = await checkSplits(make({}));
    expect(report.unit).toBe('template');
    expect(report.splits).toEqual({
      train: { tasks: 5, units: 1, coveredPrompts: 0 },
      test: { tasks: 6, units: 1, coveredPrompts: 0 },
      'test-iid': { tasks: 1, units: 1, coveredPrompts: 0 },
    });
    expect(report.heldOutUnits).toEqual(['capital']);
    expect(report.ok).toBe(true);
    expect(formatSplitReport(report)).toMatch(
      /held out: 1 template unit\(s\) only in test: capital\n {2}no leak/,
    );
  });

  it('fails a deliberately leaky config: a test task of a trained template, a test prompt copied from train', async () => {
    const report = await checkSplits(make({ leak: true }));
    expect(report.ok).toBe(false);
    expect(report.leaks.sharedUnits).toEqual([{ task: 'population/Peru-again', units: ['population'] }]);
    expect(report.leaks.coveredPrompts).toEqual(['population/Peru-again', 'capital/copy']);
    const text = formatSplitReport(report);
    expect(text).toContain('LEAK: 1 test task(s) have no template unseen in train');
    expect(text).toContain('LEAK: 2 test prompt(s) have every word 8-gram in train prompts');
    expect(text).toContain('leakage check failed');
  });

  it('counts a test task without any unit as a leak: it holds nothing out', () => {
    const tasks: Task[] = [
      { id: 'a', split: 'train', prompt: 'alpha', meta: { t: 'x' } },
      { id: 'b', split: 'test', prompt: 'beta', meta: {} },
    ];
    const report = splitReport('e', tasks, {
      unit: 't',
      unitsOf: (t) => (t.meta.t ? [t.meta.t as string] : []),
    });
    expect(report.leaks.sharedUnits).toEqual([{ task: 'b', units: [] }]);
  });

  it('says plainly when nothing is declared, and still checks prompts', () => {
    const tasks: Task[] = [
      { id: 'a', split: 'train', prompt: 'one two three four five six seven eight nine', meta: {} },
      { id: 'b', split: 'test', prompt: 'two three four five six seven eight nine', meta: {} },
    ];
    const report = splitReport('e', tasks, undefined);
    expect(report.unit).toBeUndefined();
    expect(report.leaks.coveredPrompts).toEqual(['b']);
    expect(formatSplitReport(report)).toContain('held out: not declared');
  });
});

describe('promptCoverage (word 8-grams)', () => {
  const seen = ['What is the capital of France? Use the tools, then answer.'];
  it('covers a prompt only when every 8-gram occurs in a seen prompt; case and punctuation do not count', () => {
    expect(promptCoverage(['what is the CAPITAL of france use the tools then answer'], seen)).toEqual([true]);
    expect(promptCoverage(['What is the capital of Peru? Use the tools, then answer.'], seen)).toEqual([
      false,
    ]);
  });
  it('treats a prompt shorter than 8 words as one gram: covered when it occurs whole inside a seen prompt', () => {
    expect(promptCoverage(['capital of France?', 'capital of Peru?', ''], seen)).toEqual([true, false, true]);
    expect(promptCoverage([''], [])).toEqual([false]);
  });
});
