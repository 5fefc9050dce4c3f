import { readFileSync } from 'node:fs';
import type { Task } from '@toolgym/protocol';
import { SplitSchema, splitOf, ToolGymError } from '@toolgym/protocol';
import { promptFor, type SearchAnswer, type SearchTaskMeta } from './search-answer.ts';

/** A QA file line that cannot be used, with where it is. */
export class QaFormatError extends ToolGymError {
  constructor(file: string, line: number, problem: string) {
    super(
      'qa_format',
      `${file}:${line}: ${problem}`,
      'a QA line is {"question": "...", "golden_answers": ["...", ...]} (optional "id", "split", "supporting_docs")',
    );
  }
}

/**
 * Tasks from a QA file in the common open-domain form used by Search-R1 and FlashRAG (NQ,
 * HotpotQA, …): JSONL with `question` and `golden_answers`. An `id` and a `split` (`train`,
 * `test` or `test-iid`) are used when present (else the line number, and a split by id hash); `supporting_docs` (corpus ids) make
 * the citation reward count.
 */
export function loadQaFile(file: string, options: { testFraction: number }): Task[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new QaFormatError(file, 0, 'file not found');
  }
  const tasks: Task[] = [];
  const seen = new Set<string>();
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let row: Record<string, unknown>;
    try {
      row = JSON.parse(line);
    } catch {
      throw new QaFormatError(file, i + 1, 'not valid JSON');
    }
    const { question, golden_answers: golden } = row;
    if (typeof question !== 'string' || question.trim() === '')
      throw new QaFormatError(file, i + 1, "missing 'question' (string)");
    if (!Array.isArray(golden) || golden.length === 0 || !golden.every((g) => typeof g === 'string')) {
      throw new QaFormatError(file, i + 1, "'golden_answers' must be a non-empty array of strings");
    }
    const id = row.id === undefined ? `qa-${i + 1}` : String(row.id);
    if (seen.has(id)) throw new QaFormatError(file, i + 1, `duplicate id '${id}'`);
    seen.add(id);
    const supportingDocs = Array.isArray(row.supporting_docs) ? row.supporting_docs.map(String) : [];
    const given = SplitSchema.safeParse(row.split);
    const split = given.success ? given.data : splitOf(id, options.testFraction, 'search-qa');
    const answer: SearchAnswer = { answers: golden as string[], supportingDocs };
    const meta: SearchTaskMeta = { type: 'qa_file', hops: Math.max(1, supportingDocs.length), question };
    tasks.push({ id, split, prompt: promptFor(question), answer, meta: { ...meta } });
  });
  if (tasks.length === 0) throw new QaFormatError(file, 0, 'the file holds no questions');
  return tasks;
}
