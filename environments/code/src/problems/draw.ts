import type { Rng } from '@toolgym/protocol';

/** Tests shown in the prompt (and run by `run_tests`); the rest of a problem's cases are hidden. */
export const PUBLIC_TESTS = 2;
/** Cases drawn per problem: PUBLIC_TESTS shown, the rest hidden. */
export const CASES = 10;

export const ints = (rng: Rng, n: number, lo: number, hi: number) =>
  Array.from({ length: n }, () => rng.int(lo, hi));

export const word = (rng: Rng, alphabet: string, lo: number, hi: number) =>
  Array.from({ length: rng.int(lo, hi) }, () => rng.pick([...alphabet])).join('');

/**
 * `CASES` distinct argument lists (`make(i)` draws the i-th; a repeat is drawn again), so a
 * hidden test never repeats a shown one.
 */
export function cases(make: (i: number) => unknown[]): unknown[][] {
  const out: unknown[][] = [];
  const seen = new Set<string>();
  for (let attempt = 0; out.length < CASES && attempt < CASES * 30; attempt++) {
    const args = make(out.length);
    const key = JSON.stringify(args);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(args);
  }
  return out;
}

/** Python source as an indented template literal: raw (backslashes stay as written), dedented, ending in one newline. */
export function py(strings: TemplateStringsArray, ...values: unknown[]): string {
  const text = String.raw({ raw: strings.raw }, ...values).replace(/^\n/, '');
  const lines = text.split('\n');
  const indent = Math.min(
    ...lines.filter((l) => l.trim() !== '').map((l) => l.length - l.trimStart().length),
  );
  return `${lines
    .map((l) => l.slice(indent))
    .join('\n')
    .trimEnd()}\n`;
}

/**
 * Draws arguments until `holds(args)` equals `wanted` (at most 200 tries), so that a test set can
 * be balanced between answers instead of dominated by one that a constant would pass.
 */
export function drawWhere<T extends unknown[]>(
  draw: () => T,
  holds: (args: T) => boolean,
  wanted: boolean,
): T {
  let args = draw();
  for (let attempt = 0; attempt < 200 && holds(args) !== wanted; attempt++) args = draw();
  return args;
}
