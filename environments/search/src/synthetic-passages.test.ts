import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SearchConfigSchema } from './config.ts';
import { loadSearchR1Corpus } from './corpus/corpus-store.ts';
import { writeSyntheticCorpus } from './corpus/synthetic-passages.ts';
import { closeSearchResources, loadSearchData } from './runtime.ts';
import { loadQaFile } from './tasks/qa-file.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'toolgym-synthetic-'));
afterAll(async () => {
  await closeSearchResources();
  rmSync(dir, { recursive: true, force: true });
});

describe('the generated Search-R1-format corpus', async () => {
  const world = await loadSearchData(SearchConfigSchema.parse({ dataDir: dir }));
  const input = { documents: [...world.documents.all()], tasks: world.tasks };
  const files = writeSyntheticCorpus(path.join(dir, 'a'), input, { passages: 6000, seed: 0 });

  it('writes one {id, contents} line per passage, ids by row, titles quoted, at most 100 words a passage', () => {
    const lines = readFileSync(files.corpus, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(6000);
    lines.forEach((line, i) => {
      const row = JSON.parse(line) as Record<string, unknown>;
      expect(Object.keys(row)).toEqual(['id', 'contents']);
      expect(row.id).toBe(String(i));
      expect(row.contents).toMatch(/^"[^\n]+"\n\S/);
    });
    const filler = lines
      .slice(input.documents.length)
      .map((l) => (JSON.parse(l).contents as string).split('\n')[1]!);
    expect(Math.max(...filler.map((t) => t.split(' ').length))).toBeLessThanOrEqual(100);
    // Prose, not noise: most words of the filler are common English words (WordNet-gloss text).
    const words = filler
      .join(' ')
      .toLowerCase()
      .match(/[a-z]+/g)!;
    const common = new Set(['the', 'of', 'a', 'and', 'to', 'in', 'is', 'or', 'that', 'by', 'was', 'with']);
    expect(words.filter((w) => common.has(w)).length / words.length).toBeGreaterThan(0.1);
    expect(new Set(words).size).toBeGreaterThan(5000);
  });

  it('is the same for the same seed, and its questions cite the rows of the world documents', async () => {
    const again = writeSyntheticCorpus(path.join(dir, 'b'), input, { passages: 6000, seed: 0 });
    expect(readFileSync(again.corpus, 'utf8')).toBe(readFileSync(files.corpus, 'utf8'));
    const passages = await loadSearchR1Corpus(files.corpus);
    const tasks = loadQaFile(files.qa, { testFraction: 0 });
    expect(tasks).toHaveLength(world.tasks.length);
    expect(tasks.map((t) => t.split)).toEqual(world.tasks.map((t) => t.split));
    for (const [i, task] of tasks.entries()) {
      const original = world.tasks[i]!;
      const rows = (task.answer as { supportingDocs: string[] }).supportingDocs;
      const docs = (original.answer as { supportingDocs: string[] }).supportingDocs.map(
        (id) => world.documents.get(id)!,
      );
      expect(rows.map((r) => passages[Number(r)]!.title)).toEqual(docs.map((d) => d.title));
    }
  });
});
