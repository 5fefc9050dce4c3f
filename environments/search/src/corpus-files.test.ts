import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Environment } from '@toolgym/env-kit';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSearchR1Corpus } from './corpus/corpus-store.ts';
import searchEnvironment, { closeSearchResources } from './index.ts';
import { loadQaFile } from './tasks/qa-file.ts';

const fixtures = path.resolve(import.meta.dirname, '../test/fixtures');
const dir = mkdtempSync(path.join(tmpdir(), 'toolgym-search-files-'));
afterAll(async () => {
  await closeSearchResources();
  rmSync(dir, { recursive: true, force: true });
});

const writeLines = (name: string, lines: string[]) => {
  const file = path.join(dir, name);
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
};

describe('Search-R1 / FlashRAG corpus loader', () => {
  it('takes the first line of contents as the title (quotes stripped) and the rest as text', async () => {
    const docs = await loadSearchR1Corpus(path.join(fixtures, 'mini-corpus.jsonl'));
    expect(docs).toHaveLength(5);
    expect(docs[1]).toEqual({
      id: '1',
      title: 'Appalachian Spring',
      url: 'http://corpus.toolgym.test/doc/1',
      text: 'Appalachian Spring is a ballet score composed in 1944. It won the Pulitzer Prize for Music in 1945.',
    });
    expect(docs[4]).toMatchObject({ id: '4', title: 'Brooklyn' });
    expect(await loadSearchR1Corpus(path.join(fixtures, 'mini-corpus.jsonl'), { limit: 2 })).toHaveLength(2);
  });

  it('names the file, the line and the expected format when a line is wrong', async () => {
    const bad = writeLines('bad.jsonl', ['{"id": "a", "contents": "T\\nx"}', '{"contents": "no id"}']);
    await expect(loadSearchR1Corpus(bad)).rejects.toMatchObject({
      code: 'corpus_format',
      message: expect.stringMatching(/bad\.jsonl:2: missing 'id'/),
      hint: expect.stringMatching(/"contents"/),
    });
    const notJson = writeLines('notjson.jsonl', ['{oops']);
    await expect(loadSearchR1Corpus(notJson)).rejects.toThrow(/notjson\.jsonl:1: not valid JSON/);
    const dup = writeLines('dup.jsonl', ['{"id": 1, "contents": "A"}', '{"id": "1", "contents": "B"}']);
    await expect(loadSearchR1Corpus(dup)).rejects.toThrow(/duplicate id '1'/);
    await expect(loadSearchR1Corpus(path.join(dir, 'missing.jsonl'))).rejects.toThrow(/file not found/);
  });
});

describe('QA file loader', () => {
  it('reads question/golden_answers lines with optional id, split and supporting docs', () => {
    const tasks = loadQaFile(path.join(fixtures, 'mini-qa.jsonl'), { testFraction: 0.5 });
    expect(tasks).toHaveLength(2);
    expect(tasks[0]).toMatchObject({
      id: 'q1',
      split: 'test',
      answer: { answers: ['1945'], supportingDocs: ['0', '1'] },
      meta: { type: 'qa_file', hops: 2 },
    });
    expect(tasks[0]!.prompt).toMatch(/^In which year did the ballet score/);
    expect(tasks[1]).toMatchObject({
      id: 'qa-2',
      answer: { answers: ['Brooklyn', 'Brooklyn, New York'], supportingDocs: [] },
    });
  });

  it('rejects lines without a question or with bad golden answers, saying which line', () => {
    const bad = writeLines('bad-qa.jsonl', [
      '{"question": "ok?", "golden_answers": ["x"]}',
      '{"question": "q", "golden_answers": "x"}',
    ]);
    expect(() => loadQaFile(bad, { testFraction: 0 })).toThrow(
      /bad-qa\.jsonl:2: 'golden_answers' must be a non-empty array/,
    );
    const noQuestion = writeLines('noq.jsonl', ['{"golden_answers": ["x"]}']);
    expect(() => loadQaFile(noQuestion, { testFraction: 0 })).toThrow(/noq\.jsonl:1: missing 'question'/);
  });
});

describe('the environment on a user corpus and QA file', () => {
  it('searches the JSONL corpus, grades with the file answers, and fails at once without a QA file', async () => {
    const options = {
      corpus: { kind: 'jsonl', path: path.join(fixtures, 'mini-corpus.jsonl') },
      qaPath: path.join(fixtures, 'mini-qa.jsonl'),
      dataDir: dir,
    };
    const env = new Environment(searchEnvironment, searchEnvironment.parseConfig(options));
    expect((await env.tasksOf('test')).map((t) => t.id)).toContain('q1');
    const episode = await env.openEpisode({ taskId: 'q1' });
    const found = await episode.callTool('search', { query: 'Pulitzer Prize ballet score', k: 2 });
    expect(found.isError).toBe(false);
    expect(found.content).toMatch(/\[1\] 1 — Appalachian Spring/);
    await episode.callTool('answer', { answer: '1945', citations: ['0', '1'] });
    const { reward } = await episode.end();
    expect(reward.components).toEqual({ exact_match: 1, f1: 1, cover_em: 1, format: 1, citation: 1 });

    const noQa = new Environment(
      searchEnvironment,
      searchEnvironment.parseConfig({ corpus: options.corpus, dataDir: dir }),
    );
    await expect(noQa.tasks()).rejects.toMatchObject({
      code: 'invalid_config',
      message: expect.stringMatching(/comes without questions/),
      hint: expect.stringMatching(/set qaPath/),
    });
  });
});
