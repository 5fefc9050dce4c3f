import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { defineEnvironment, Environment, probeEnvironment, weightedReward } from '@toolgym/env-kit';
import { coverExactMatch, exactMatch, tokenF1 } from '@toolgym/tools';
import { afterAll, describe, expect, it } from 'vitest';
import search, { closeSearchResources, type SearchAnswer } from '../src/index.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'toolgym-search-redteam-'));
afterAll(async () => {
  await closeSearchResources();
  rmSync(dir, { recursive: true, force: true });
});

const data = { corpus: { kind: 'world', distractors: 50, questionsPerType: 5 }, dataDir: dir };
/** Every answer metric weighted, so a hole in any of them shows in the total. */
const EVERY_METRIC = { exact_match: 1, f1: 1, cover_em: 1, format: 0.1, citation: 0.2 };

describe.each([
  ['default weights', {}],
  ['every answer metric weighted', { weights: EVERY_METRIC }],
])('search red-team with %s', (_label, options) => {
  it('holds every attack family to its ceiling', async () => {
    const environment = new Environment(search, search.parseConfig({ ...data, ...options }));
    const report = await probeEnvironment(environment, { tasks: 3 });
    expect(new Set(report.rows.map((r) => r.family))).toEqual(
      new Set(['cite-everything', 'list-answer', 'long-answer', 'paste-observation', 'generic']),
    );
    for (const row of report.rows) {
      expect(row.verdict, `${row.attack}: ${row.error ?? JSON.stringify(row.worst)}`).toBe('pass');
      expect(row.episodes).toBeGreaterThan(0);
    }
    expect(report.floor).toBe(environment.config.weights.format);
  });
});

it('Search Self-play: no proposer attack gets a question verified, by the rule checks alone', async () => {
  const environment = new Environment(
    search,
    search.parseConfig({ ...data, selfPlay: { solvers: 1, matches: 6, verify: 'documents' } }),
  );
  const report = await probeEnvironment(environment, { tasks: 3, splits: ['train'] });
  const proposer = report.rows.filter((r) => r.family === 'unverifiable-question');
  expect(proposer.map((r) => r.attack).sort()).toEqual([
    'answer-instead-of-proposing',
    'answer-letter-by-letter',
    'answer-spelled-apart',
    'empty-question',
    'propose-without-searching',
    'question-names-answer',
    'unsupported-question',
  ]);
  for (const row of report.rows) {
    expect(row.verdict, `${row.attack}: ${row.error ?? JSON.stringify(row.worst)}`).toBe('pass');
    expect(row.episodes).toBeGreaterThan(0);
  }
});

it('beats the grade as it was: citation recall, and cover-EM and F1 for any answer', async () => {
  const recallGrade = defineEnvironment({
    ...search,
    grade: ({ episode, finalText }) => {
      const gold = episode.task.answer as SearchAnswer;
      const given = episode.answer as { answer: string; citations: string[] } | undefined;
      const text = given?.answer ?? finalText ?? '';
      const cited = new Set(given?.citations ?? []);
      return weightedReward(
        {
          exact_match: exactMatch(text, gold.answers),
          f1: tokenF1(text, gold.answers),
          cover_em: coverExactMatch(text, gold.answers),
          format: 0,
          citation: gold.supportingDocs.filter((d) => cited.has(d)).length / gold.supportingDocs.length,
        },
        episode.config.weights,
      );
    },
  });
  // On the countries corpus, where a question's own words find its supporting document, so citing
  // every result reaches it; the world's chains hide most supporting documents from a first search.
  const countries = { corpus: { kind: 'countries', wordnetDocuments: 50 }, dataDir: dir };
  const environment = new Environment(recallGrade, recallGrade.parseConfig({ ...countries, weights: EVERY_METRIC }));
  const report = await probeEnvironment(environment, { tasks: 3 });
  const above = report.rows.filter((r) => r.verdict === 'above ceiling').map((r) => r.attack);
  expect(above).toEqual(expect.arrayContaining(['cite-every-result', 'list-answer', 'long-answer', 'paste-observation']));
});
