import { ConfigError } from '@toolgym/env-kit';
import { hashString, Rng, type Split, type Task } from '@toolgym/protocol';
import type { RetrievalDocument } from '@toolgym/tools';
import { MentionIndex } from '../tasks/cooccurrence.ts';
import { promptFor, type SearchAnswer, type SearchTaskMeta } from '../tasks/search-answer.ts';
import type { WorldDocuments } from './world-documents.ts';
import { anchorsOf, QUESTION_TYPES, type QuestionType } from './world-questions.ts';

export interface WorldTaskOptions {
  /** Most questions kept per type (anchors are drawn in a seeded order). */
  questionsPerType: number;
  /** Question types only in `test`. */
  heldOutTypes: readonly string[];
  /** Share of the other types' questions in `test-iid` (by hash of the task id). */
  testIidFraction: number;
}

/** What the generator kept, and why it dropped the rest (by candidate id). */
export interface WorldTaskCheck {
  kept: Task[];
  dropped: Record<string, string>;
}

/**
 * Why a candidate question cannot be used, or undefined when it can. A question is kept only
 * when its documents make a followable chain that ends in the answer, and — for multi-hop —
 * when no single document of the whole corpus mentions both an entity the question names and
 * an accepted answer (whole words, case, punctuation and diacritics folded): an agent that has
 * read one document cannot have read the answer next to the question's entity.
 */
export function whyUnusable(
  mentions: MentionIndex,
  ids: ReadonlySet<string>,
  c: { anchors: string[]; pathDocs: string[]; pathNames: string[]; answers: string[] },
): string | undefined {
  const missing = c.pathDocs.find((id) => !ids.has(id));
  if (missing) return `supporting document ${missing} is not in the corpus`;
  const hops = c.pathDocs.length;
  for (const [i, name] of c.anchors.entries()) {
    if (!mentions.mentions(c.pathDocs[i]!, name)) return `document ${c.pathDocs[i]} does not name ${name}`;
  }
  // Every document names the next entity of the chain, so the chain can be followed.
  for (let i = 0; i + 1 < hops; i++) {
    if (c.pathNames[i + 1] === c.anchors[i + 1]) continue; // a second named entity, not a link
    if (!mentions.mentions(c.pathDocs[i]!, c.pathNames[i + 1]!))
      return `document ${c.pathDocs[i]} does not name the next hop ${c.pathNames[i + 1]}`;
  }
  const last = c.anchors.length > 1 ? c.pathDocs : [c.pathDocs[hops - 1]!];
  if (!c.answers.some((a) => last.some((d) => mentions.mentions(d, a))))
    return 'no supporting document states the answer';
  if (hops > 1) {
    for (const anchor of c.anchors) {
      const others = c.answers.filter((a) => a !== anchor);
      const joining = mentions.documentsJoining(anchor, others);
      if (joining.length > 0) return `one document (${joining[0]}) mentions both ${anchor} and the answer`;
    }
  }
  return undefined;
}

/** The tasks of a fictional world, checked against its documents (see `whyUnusable`). */
export function worldTasks(
  world: WorldDocuments,
  documents: readonly RetrievalDocument[],
  options: WorldTaskOptions,
): WorldTaskCheck {
  const unknown = options.heldOutTypes.filter((t) => !QUESTION_TYPES.some((q) => q.id === t));
  if (unknown.length > 0) {
    throw new ConfigError(
      `corpus.heldOutTypes names unknown question types: ${unknown.join(', ')}`,
      `use types of the world: ${QUESTION_TYPES.map((q) => q.id).join(', ')}`,
    );
  }
  const ids = new Set(documents.map((d) => d.id));
  const mentions = new MentionIndex(documents);
  const held = new Set(options.heldOutTypes);
  const kept: Task[] = [];
  const dropped: Record<string, string> = {};
  const w = world.index;
  for (const type of QUESTION_TYPES) {
    const rng = new Rng(hashString(`${world.world.seed}:${type.id}`));
    let count = 0;
    for (const anchor of rng.shuffle(anchorsOf(world.world, type.anchor))) {
      if (count >= options.questionsPerType) break;
      const q = type.ask(anchor, w);
      if (!q) continue;
      const id = `${type.id}/${anchor.split('/')[1]}`;
      const anchors = q.anchors.map((a) => w.nameOf(a));
      const pathDocs = q.path.map((e) => world.docId(e));
      const why = whyUnusable(mentions, ids, {
        anchors,
        pathDocs,
        pathNames: q.path.map((e) => w.nameOf(e)),
        answers: q.answers,
      });
      if (why) {
        dropped[id] = why;
        continue;
      }
      kept.push(taskOf(type, id, anchors, pathDocs, q.answers, held, options.testIidFraction));
      count++;
    }
  }
  return { kept, dropped };
}

function taskOf(
  type: QuestionType,
  id: string,
  anchors: string[],
  supportingDocs: string[],
  answers: string[],
  heldOut: ReadonlySet<string>,
  testIidFraction: number,
): Task {
  const phrasing = hashString(`phrasing:${id}`) % type.phrasings.length;
  const question = type.phrasings[phrasing]!(...anchors);
  const split: Split = heldOut.has(type.id)
    ? 'test'
    : hashString(`test-iid:${id}`) / 4294967296 < testIidFraction
      ? 'test-iid'
      : 'train';
  const answer: SearchAnswer = { answers, supportingDocs };
  const meta: SearchTaskMeta = {
    type: type.id,
    hops: supportingDocs.length,
    entity: anchors[0]!,
    entities: anchors,
    question,
    phrasing,
  };
  return { id, split, prompt: promptFor(question), answer, meta: { ...meta } };
}
