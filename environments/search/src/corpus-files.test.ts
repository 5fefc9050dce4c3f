import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Environment } from '@toolgym/env-kit';
import { SqliteDocumentStore } from '@toolgym/tools';
import { afterAll, describe, expect, it } from 'vitest';
import { countPassages, loadSearchR1Corpus } from './corpus/corpus-store.ts';
import searchEnvironment, { closeSearchResources } from './index.ts';
import { loadSearchData } from './runtime.ts';
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

describe("a corpus shaped like Search-R1's wiki-18.jsonl, irregular records included", () => {
  const file = path.join(fixtures, 'search-r1-corpus.jsonl');

  it('loads every passage: chunked articles, quoted and unquoted titles, escapes, numeric ids, CRLF and blank lines', async () => {
    const docs = await loadSearchR1Corpus(file);
    expect(docs).toHaveLength(34);
    expect(await countPassages(file)).toBe(34);
    const byId = new Map(docs.map((d) => [d.id, d]));
    // Chunks of one article share its title; only the first repeats it in the text.
    expect(docs.slice(0, 3).map((d) => d.title)).toEqual(Array(3).fill('Marta Quillfeather'));
    expect(byId.get('0')!.text).toMatch(
      /^Marta Quillfeather Marta Ines Quillfeather \(March 3, 1911 – June 20, 1988\)/,
    );
    expect(byId.get('1')!.text).toMatch(/^of the lake district/);
    expect(byId.get('3')!.title).toBe('"Night Ferry" (song)');
    expect(byId.get('4')!.title).toBe('Café Zürich');
    expect(byId.get('5')!.title).toBe('Dūnmore Abbey');
    expect(byId.get('8')).toMatchObject({
      title: 'Unquoted Title',
      text: 'Some dumps write the title without quotes.',
    });
    expect(byId.get('9')).toMatchObject({ title: 'Only A Title', text: '' });
    expect(byId.get('10')!.text).toBe(
      'First line of text.\nSecond line of text.\n\nA paragraph after a blank line.',
    );
    expect(byId.get('11')!.title).toBe('Numeric Id');
    expect(byId.get('21015323')!.url).toBe('http://corpus.toolgym.test/doc/21015323');
    expect(byId.get('13')!.title).toBe('Extra Fields'); // contents wins over a title field
    expect(byId.get('14')).toMatchObject({
      title: 'Split Fields',
      text: 'Title and text in fields of their own.',
    });
    expect(byId.get('16')!.text).toBe('A dash — a slash / a tab\there and an emoji 🚀.');
    expect(byId.get('17')!.title).toBe('東京');
    expect(byId.get('19')!.text.split(' ')).toHaveLength(400);
    expect(byId.get('20')!.title).toBe('Key Order');
    expect(byId.get('21')).toMatchObject({ title: '21', text: 'Text under an empty title.' });
    expect(byId.get('22')!.title).toBe('Half Quoted');
    expect(await countPassages(file, 5)).toBe(5);
  });

  it('is served from a SQLite store with its postings on disk above diskIndexAbove, ranking as in memory', async () => {
    const qaPath = writeLines('wiki-qa.jsonl', [
      JSON.stringify({
        id: 'm1',
        question: 'Who surveyed the northern lakes?',
        golden_answers: ['Marta Quillfeather'],
        split: 'test',
        supporting_docs: ['0'],
      }),
      JSON.stringify({
        id: 'm2',
        question: 'When was Café Zürich founded?',
        golden_answers: ['1902'],
        split: 'test-iid',
        supporting_docs: ['4'],
      }),
    ]);
    const options = { corpus: { kind: 'jsonl', path: file }, qaPath, dataDir: dir };
    const onDisk = new Environment(
      searchEnvironment,
      searchEnvironment.parseConfig({ ...options, diskIndexAbove: 10 }),
    );
    const inMemory = new Environment(
      searchEnvironment,
      searchEnvironment.parseConfig({ ...options, diskIndexAbove: 1000 }),
    );
    expect((await onDisk.tasks()).map((t) => [t.id, t.split])).toEqual([
      ['m1', 'test'],
      ['m2', 'test-iid'],
    ]);
    const data = await loadSearchData(onDisk.config);
    expect(data.documents).toBeInstanceOf(SqliteDocumentStore);
    expect(data.built).toEqual({ corpus: true, index: true, tasks: false });
    for (const query of [
      'northern lakes cartographer',
      'cafe zurich coffee',
      '東京 kanji',
      'harbour Velmora filler 30',
    ]) {
      const a = await onDisk.openEpisode({ taskId: 'm1' });
      const b = await inMemory.openEpisode({ taskId: 'm1' });
      const fromDisk = await a.callTool('search', { query, k: 5 });
      expect(fromDisk.isError).toBe(false);
      expect(fromDisk.content).toBe((await b.callTool('search', { query, k: 5 })).content);
      await a.close();
      await b.close();
    }
    const episode = await onDisk.openEpisode({ taskId: 'm2' });
    expect((await episode.callTool('open', { target: '4' })).content).toContain(
      'Café Zürich is a coffee house founded in 1902.',
    );
    await episode.callTool('answer', { answer: '1902', citations: ['4'] });
    expect((await episode.end()).reward.components).toMatchObject({ exact_match: 1, citation: 1, format: 1 });
    // A second process (here: after forgetting the in-memory copy) opens the store and index without a rebuild.
    await closeSearchResources();
    expect((await loadSearchData(onDisk.config)).built).toEqual({
      corpus: false,
      index: false,
      tasks: false,
    });
    // The file's passages are counted once, beside its cache; the count decides disk or memory.
    const counted = path.join(data.dir, 'passages.json');
    expect(JSON.parse(readFileSync(counted, 'utf8'))).toEqual({ passages: await countPassages(file) });
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
