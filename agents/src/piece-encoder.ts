import type { Tokenizer } from './tokenizer.ts';

/** Pieces each tokenizer's memo holds before it starts again empty. */
const MEMO_ENTRIES = 8_192;
/** Whole texts up to this length are memoised as well (observations; prompts are a run's to keep). */
const TEXT_MEMO_LENGTH = 1_024;
/** Whole texts the memo holds before it starts again empty. */
const TEXT_MEMO_ENTRIES = 2_048;

interface PieceMemo {
  /** Splits text at the tokenizer's boundary tokens, keeping them (odd pieces); null when it has none. */
  boundary: RegExp | null;
  pieces: Map<string, number[]>;
  /**
   * Short whole texts of several pieces: the members of a group see the same observations, so
   * each distinct one is split and put together once.
   */
  texts: Map<string, number[]>;
}

const memos = new WeakMap<Tokenizer, PieceMemo>();

/**
 * `tokenizer.encode(text)`, memoised piece by piece between the tokenizer's boundary tokens
 * (`Tokenizer.boundaryTokens`), one memo per tokenizer: prompts of one run differ in the task's turn,
 * so the system turn with the tool list, the bulk of their tokens, is tokenized once; the members of
 * a group write and see the same turns. The agent loop and the scripted policies share it. Callers
 * must not change the array.
 */
export function encodePieces(tokenizer: Tokenizer, text: string): readonly number[] {
  const memo = memoOf(tokenizer);
  if (!memo.boundary) return encodePiece(tokenizer, memo, text);
  const memoised = text.length <= TEXT_MEMO_LENGTH;
  let tokens = memoised ? memo.texts.get(text) : undefined;
  if (tokens !== undefined) return tokens;
  const pieces = text.split(memo.boundary);
  if (pieces.length === 1) return encodePiece(tokenizer, memo, text);
  tokens = [];
  for (let i = 0; i < pieces.length; i++) {
    const piece = pieces[i]!;
    if (piece === '') continue;
    if (i % 2 === 1) tokens.push(tokenizer.specialTokens.get(piece)!);
    else for (const id of encodePiece(tokenizer, memo, piece)) tokens.push(id);
  }
  if (memoised) {
    if (memo.texts.size >= TEXT_MEMO_ENTRIES) memo.texts.clear();
    memo.texts.set(text, tokens);
  }
  return tokens;
}

function encodePiece(tokenizer: Tokenizer, memo: PieceMemo, text: string): number[] {
  let tokens = memo.pieces.get(text);
  if (tokens === undefined) {
    tokens = tokenizer.encode(text);
    if (memo.pieces.size >= MEMO_ENTRIES) memo.pieces.clear();
    memo.pieces.set(text, tokens);
  }
  return tokens;
}

function memoOf(tokenizer: Tokenizer): PieceMemo {
  let memo = memos.get(tokenizer);
  if (!memo) {
    const boundary = tokenPattern(
      [...(tokenizer.boundaryTokens ?? [])].filter((t) => tokenizer.specialTokens.has(t)),
    );
    memo = { boundary, pieces: new Map(), texts: new Map() };
    memos.set(tokenizer, memo);
  }
  return memo;
}

/** A pattern that splits text at any of `tokens`, keeping them (odd pieces); null for none. */
export function tokenPattern(tokens: Iterable<string>): RegExp | null {
  const alternatives = [...tokens]
    .filter((t) => t.length > 0)
    // Longest first, so a token that extends another is matched whole.
    .sort((a, b) => b.length - a.length)
    .map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return alternatives.length > 0 ? new RegExp(`(${alternatives.join('|')})`) : null;
}
