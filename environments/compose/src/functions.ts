/**
 * The atomic skills of "From f(x) and g(x) to f(g(x)): LLMs Learn New Skills in RL by Composing
 * Old Ones": deterministic string transformations. Each is total on any string.
 */
const VOWELS = new Set('aeiouAEIOU');
const swapCase = (c: string) => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase());
const shift = (c: string, k: number) => {
  const code = c.charCodeAt(0);
  if (code >= 97 && code <= 122) return String.fromCharCode(((((code - 97 + k) % 26) + 26) % 26) + 97);
  if (code >= 65 && code <= 90) return String.fromCharCode(((((code - 65 + k) % 26) + 26) % 26) + 65);
  return c;
};

export const STRING_FUNCTIONS = {
  reverse: { description: 'Reverse the string.', apply: (s: string) => [...s].reverse().join('') },
  rotate_left: {
    description: 'Move the first character to the end.',
    apply: (s: string) => s.slice(1) + s.slice(0, 1),
  },
  rotate_right: {
    description: 'Move the last character to the front.',
    apply: (s: string) => s.slice(-1) + s.slice(0, -1),
  },
  swap_case: {
    description: 'Swap upper and lower case of every letter.',
    apply: (s: string) => [...s].map(swapCase).join(''),
  },
  upper: { description: 'Upper-case every letter.', apply: (s: string) => s.toUpperCase() },
  lower: { description: 'Lower-case every letter.', apply: (s: string) => s.toLowerCase() },
  double: {
    description: 'Write every character twice.',
    apply: (s: string) => [...s].map((c) => c + c).join(''),
  },
  drop_vowels: {
    description: 'Remove the vowels (a, e, i, o, u in either case).',
    apply: (s: string) => [...s].filter((c) => !VOWELS.has(c)).join(''),
  },
  sort: { description: 'Sort the characters by code point.', apply: (s: string) => [...s].sort().join('') },
  shift1: {
    description: 'Caesar-shift every letter forward by 1 (z wraps to a).',
    apply: (s: string) => [...s].map((c) => shift(c, 1)).join(''),
  },
  rot13: {
    description: 'Caesar-shift every letter by 13.',
    apply: (s: string) => [...s].map((c) => shift(c, 13)).join(''),
  },
  mirror: {
    description: 'Append the reversed string to the string.',
    apply: (s: string) => s + [...s].reverse().join(''),
  },
  dedupe: {
    description: 'Collapse runs of the same character into one.',
    apply: (s: string) => s.replace(/(.)\1+/gu, '$1'),
  },
  drop_first: { description: 'Remove the first character.', apply: (s: string) => s.slice(1) },
  drop_last: { description: 'Remove the last character.', apply: (s: string) => s.slice(0, -1) },
  swap_ends: {
    description: 'Swap the first and last characters.',
    apply: (s: string) => (s.length < 2 ? s : s.slice(-1) + s.slice(1, -1) + s.slice(0, 1)),
  },
} as const satisfies Record<string, { description: string; apply: (s: string) => string }>;

export type FunctionName = keyof typeof STRING_FUNCTIONS;
export const FUNCTION_NAMES = Object.keys(STRING_FUNCTIONS) as FunctionName[];

/** Applies `names` left to right: compose(['f','g'], x) = g(f(x)). */
export function applyChain(names: readonly FunctionName[], input: string): string {
  return names.reduce((s, name) => STRING_FUNCTIONS[name].apply(s), input);
}
