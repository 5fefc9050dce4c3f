import type { Rng } from '@toolgym/protocol';
import { cases, drawWhere, py, word } from './draw.ts';
import type { ProgrammingTemplate } from './template.ts';

const WORDS = [
  'apple',
  'tree',
  'sun',
  'river',
  'stone',
  'cloud',
  'fox',
  'moon',
  'bird',
  'lake',
  'fire',
  'wind',
];
const sentence = (rng: Rng, lo: number, hi: number, words = WORDS) =>
  Array.from({ length: rng.int(lo, hi) }, () => rng.pick(words)).join(' ');
const palindrome = (rng: Rng, alphabet: string) => {
  const half = word(rng, alphabet, 0, 4);
  return half + (rng.next() < 0.5 ? rng.pick([...alphabet]) : '') + [...half].reverse().join('');
};

/** Problem families on strings: parsing, encoding, classic string algorithms. */
export const STRING_TEMPLATES: ProgrammingTemplate[] = [
  {
    id: 'reverse-words',
    difficulty: 'easy',
    make: (rng) => {
      const sep = rng.pick([' ', '-', ' | ', ',', '/']);
      return {
        entryPoint: 'reverse_words',
        description: `Write a function \`reverse_words(text)\` that returns the words of text (split on whitespace) in reverse order, joined by ${JSON.stringify(sep)}.`,
        reference: py`
          def reverse_words(text):
              return ${JSON.stringify(sep)}.join(text.split()[::-1])
        `,
        inputs: cases((i) => [i === 0 ? '' : sentence(rng, 1, 6).replace(/ /g, rng.pick([' ', '  ', '\t']))]),
      };
    },
  },
  {
    id: 'clean-palindrome',
    difficulty: 'easy',
    make: (rng) => {
      const keepDigits = rng.next() < 0.5;
      const min = rng.int(1, 3);
      return {
        entryPoint: 'is_clean_palindrome',
        description: `Write a function \`is_clean_palindrome(s)\` that returns True if, after removing every character that is not a letter${keepDigits ? ' or a digit' : ''} and ignoring case, s has at least ${min} character(s) and reads the same forwards and backwards; otherwise False.`,
        reference: py`
          def is_clean_palindrome(s):
              kept = [c.lower() for c in s if c.isalpha()${keepDigits ? ' or c.isdigit()' : ''}]
              return len(kept) >= ${min} and kept == kept[::-1]
        `,
        inputs: cases((i) => {
          const base = i % 2 === 0 ? palindrome(rng, 'abAB1') : word(rng, 'abAB1', 2, 8);
          return [
            [...base].map((c) => (rng.next() < 0.2 ? `${c}${rng.pick([' ', ',', '!', '2'])}` : c)).join(''),
          ];
        }),
      };
    },
  },
  {
    id: 'run-length-encode',
    difficulty: 'medium',
    make: (rng) => {
      const countFirst = rng.next() < 0.5;
      const sep = rng.pick(['', '-', ',', ' ']);
      return {
        entryPoint: 'rle_encode',
        description: `Write a function \`rle_encode(s)\` that run-length encodes s: each maximal run of one character becomes ${countFirst ? 'the run length followed by the character' : 'the character followed by the run length'}, and the groups are joined by ${JSON.stringify(sep)} (so "aaab" → ${JSON.stringify(countFirst ? `3a${sep}1b` : `a3${sep}b1`)}). An empty string gives "".`,
        reference: py`
          def rle_encode(s):
              out = []
              i = 0
              while i < len(s):
                  j = i
                  while j < len(s) and s[j] == s[i]:
                      j += 1
                  out.append(${countFirst ? 'str(j - i) + s[i]' : 's[i] + str(j - i)'})
                  i = j
              return ${JSON.stringify(sep)}.join(out)
        `,
        inputs: cases((i) => [i === 0 ? '' : word(rng, 'aaabbc', 1, 14)]),
      };
    },
  },
  {
    id: 'run-length-decode',
    difficulty: 'medium',
    make: (rng) => {
      const times = rng.int(1, 3);
      const upper = rng.next() < 0.5;
      return {
        entryPoint: 'rle_decode',
        description: `Write a function \`rle_decode(code)\` that decodes a string of (letter, count) groups such as "a3b12" — a lowercase letter followed by a decimal count — into the letters repeated count times each${upper ? ' in uppercase' : ''}, and then repeats the whole decoded string ${times} time(s).`,
        reference: py`
          def rle_decode(code):
              out = []
              i = 0
              while i < len(code):
                  letter = code[i]
                  j = i + 1
                  while j < len(code) and code[j].isdigit():
                      j += 1
                  out.append(letter * int(code[i + 1:j]))
                  i = j
              return ''.join(out)${upper ? '.upper()' : ''} * ${times}
        `,
        inputs: cases(() => [
          Array.from({ length: rng.int(0, 4) }, () => `${rng.pick([...'abcxyz'])}${rng.int(1, 12)}`).join(''),
        ]),
      };
    },
  },
  {
    id: 'letter-histogram',
    difficulty: 'medium',
    make: (rng) => {
      const letters = rng.pick(['aeiou', 'abc', 'rstl', 'mnop', 'xyz']);
      return {
        entryPoint: 'letter_histogram',
        description: `Write a function \`letter_histogram(text)\` that returns a dict mapping each of the letters ${JSON.stringify(letters)} that occurs in text (case-insensitive) to its number of occurrences; letters that do not occur are left out.`,
        reference: py`
          def letter_histogram(text):
              counts = {}
              for c in text.lower():
                  if c in ${JSON.stringify(letters)}:
                      counts[c] = counts.get(c, 0) + 1
              return counts
        `,
        inputs: cases(() => [word(rng, `${letters}${letters.toUpperCase()}bdfgh `, 0, 16)]),
      };
    },
  },
  {
    id: 'anagram-check',
    difficulty: 'easy',
    make: (rng) => {
      const ignored = rng.pick(['', ' ', '-', ' -', '.']);
      const ignoreCase = rng.next() < 0.5;
      return {
        entryPoint: 'is_anagram',
        description: `Write a function \`is_anagram(a, b)\` that returns True if the strings a and b contain the same characters with the same counts${ignored ? `, ignoring every character of ${JSON.stringify(ignored)}` : ''} (${ignoreCase ? 'case-insensitive' : 'case-sensitive'}), otherwise False.`,
        reference: py`
          def is_anagram(a, b):
              def key(s):
                  return sorted(c${ignoreCase ? '.lower()' : ''} for c in s if c not in ${JSON.stringify(ignored)})
              return key(a) == key(b)
        `,
        inputs: cases((i) => {
          const a = word(rng, 'abcA -.', 1, 7);
          const b = i % 2 === 0 ? rng.shuffle([...a]).join('') : word(rng, 'abcA -.', 1, 7);
          return [a, b];
        }),
      };
    },
  },
  {
    id: 'longest-common-prefix',
    difficulty: 'medium',
    make: (rng) => {
      const min = rng.int(0, 2);
      const fold = rng.next() < 0.5;
      return {
        entryPoint: 'common_prefix',
        description: `Write a function \`common_prefix(words)\` that returns the longest string that every string of the list words${fold ? ', lowercased,' : ''} starts with, or "" if there is none or the list is empty — and also "" when that prefix is shorter than ${min + 1} character(s).`,
        reference: py`
          def common_prefix(words):
              ${fold ? 'words = [w.lower() for w in words]' : 'pass'}
              if not words:
                  return ''
              prefix = words[0]
              for w in words[1:]:
                  while not w.startswith(prefix):
                      prefix = prefix[:-1]
              return prefix if len(prefix) > ${min} else ''
        `,
        inputs: cases(() => {
          const stem = word(rng, 'abcA', 0, 4);
          return [Array.from({ length: rng.int(0, 4) }, () => stem + word(rng, 'abcA', 0, 3))];
        }),
      };
    },
  },
  {
    id: 'snake-to-camel',
    difficulty: 'medium',
    make: (rng) => {
      const pascal = rng.next() < 0.5;
      const prefix = rng.pick(['', 'get', 'is', 'to']);
      return {
        entryPoint: 'to_camel',
        description: `Write a function \`to_camel(name)\` that turns a snake_case name${prefix ? `, with the word "${prefix}" put in front of it,` : ''} into ${pascal ? 'PascalCase (every word capitalised: "max_value" → "MaxValue")' : 'camelCase (every word but the first capitalised: "max_value" → "maxValue")'}. Underscores at the ends and repeated underscores are dropped.`,
        reference: py`
          def to_camel(name):
              parts = [p for p in (${JSON.stringify(prefix ? `${prefix}_` : '')} + name).split('_') if p]
              if not parts:
                  return ''
              ${pascal ? "return ''.join(p[:1].upper() + p[1:] for p in parts)" : "return parts[0] + ''.join(p[:1].upper() + p[1:] for p in parts[1:])"}
        `,
        inputs: cases(() => [
          Array.from({ length: rng.int(1, 4) }, () => word(rng, 'abcdxyz', 0, 5)).join(rng.pick(['_', '__'])),
        ]),
      };
    },
  },
  {
    id: 'top-word',
    difficulty: 'medium',
    make: (rng) => {
      const min = rng.int(1, 4);
      return {
        entryPoint: 'top_word',
        description: `Write a function \`top_word(text)\` that returns the most frequent lowercase word of text among words longer than ${min} character(s) (words are split on whitespace and lowercased); on a tie return the alphabetically first; return None if there is no such word.`,
        reference: py`
          def top_word(text):
              counts = {}
              for w in text.lower().split():
                  if len(w) > ${min}:
                      counts[w] = counts.get(w, 0) + 1
              if not counts:
                  return None
              return min(counts, key=lambda w: (-counts[w], w))
        `,
        inputs: cases(() => [
          sentence(rng, 0, 9, ['a', 'an', 'Sun', 'sun', 'tree', 'TREE', 'fox', 'ox', 'river']),
        ]),
      };
    },
  },
  {
    id: 'first-unique-char',
    difficulty: 'medium',
    make: (rng) => {
      const fromEnd = rng.next() < 0.5;
      const times = rng.int(1, 3);
      return {
        entryPoint: 'first_unique',
        description: `Write a function \`first_unique(s)\` that returns the index of the ${fromEnd ? 'last' : 'first'} character of s that occurs exactly ${times === 1 ? 'once' : `${times} times`} in s, or -1 if there is none.`,
        reference: py`
          def first_unique(s):
              order = ${fromEnd ? 'range(len(s) - 1, -1, -1)' : 'range(len(s))'}
              for i in order:
                  if s.count(s[i]) == ${times}:
                      return i
              return -1
        `,
        inputs: cases(() => [word(rng, 'aabbcd', 0, 10)]),
      };
    },
  },
  {
    id: 'vigenere',
    difficulty: 'hard',
    make: (rng) => {
      const key = word(rng, 'abcdefghijklmnopqrstuvwxyz', 2, 5);
      return {
        entryPoint: 'vigenere',
        description: `Write a function \`vigenere(text)\` that encrypts text with the Vigenère cipher and key ${JSON.stringify(key)}: the k-th letter of text (counting letters only) is shifted forward by the position in the alphabet (a=0) of key[k % len(key)], keeping its case and wrapping z to a; characters that are not ASCII letters are copied and do not advance the key.`,
        reference: py`
          def vigenere(text):
              key = ${JSON.stringify(key)}
              out, k = [], 0
              for c in text:
                  if 'a' <= c <= 'z' or 'A' <= c <= 'Z':
                      base = 97 if c.islower() else 65
                      out.append(chr((ord(c) - base + ord(key[k % len(key)]) - 97) % 26 + base))
                      k += 1
                  else:
                      out.append(c)
              return ''.join(out)
        `,
        inputs: cases(() => [word(rng, 'abxyzABZ .!', 0, 14)]),
      };
    },
  },
  {
    id: 'to-roman',
    difficulty: 'hard',
    make: (rng) => {
      const lower = rng.next() < 0.5;
      const add = rng.int(0, 20);
      return {
        entryPoint: 'to_roman',
        description: `Write a function \`to_roman(n)\` that returns the integer n + ${add} (between 1 and 3999) as a Roman numeral in ${lower ? 'lowercase ("xiv")' : 'uppercase ("XIV")'}, using subtractive forms (IV, IX, XL, XC, CD, CM).`,
        reference: py`
          def to_roman(n):
              n += ${add}
              table = [(1000, 'M'), (900, 'CM'), (500, 'D'), (400, 'CD'), (100, 'C'), (90, 'XC'), (50, 'L'), (40, 'XL'), (10, 'X'), (9, 'IX'), (5, 'V'), (4, 'IV'), (1, 'I')]
              out = ''
              for value, letters in table:
                  while n >= value:
                      out += letters
                      n -= value
              return out${lower ? '.lower()' : ''}
        `,
        inputs: cases(() => [rng.int(1, 3999 - add)]),
      };
    },
  },
  {
    id: 'from-roman',
    difficulty: 'hard',
    make: (rng) => {
      const add = rng.int(0, 100);
      return {
        entryPoint: 'from_roman',
        description: `Write a function \`from_roman(numeral)\` that returns the value of a valid uppercase Roman numeral (with subtractive forms such as IV and CM) plus ${add}.`,
        reference: py`
          def from_roman(numeral):
              values = {'I': 1, 'V': 5, 'X': 10, 'L': 50, 'C': 100, 'D': 500, 'M': 1000}
              total = 0
              for i, c in enumerate(numeral):
                  v = values[c]
                  if i + 1 < len(numeral) and values[numeral[i + 1]] > v:
                      total -= v
                  else:
                      total += v
              return total + ${add}
        `,
        inputs: cases(() => [toRoman(rng.int(1, 3999))]),
      };
    },
  },
  {
    id: 'isomorphic-strings',
    difficulty: 'medium',
    make: (rng) => {
      const alphabet = 'abc';
      const bijection = rng.next() < 0.5;
      const fold = rng.next() < 0.5;
      return {
        entryPoint: 'isomorphic',
        description: `Write a function \`isomorphic(a, b)\` that returns True if ${bijection ? 'the characters of a can be replaced one-for-one (a bijection: different characters stay different)' : 'each character of a can be replaced by a character (different characters may map to the same one)'} to give b${fold ? ', after lowercasing both strings' : ''}, otherwise False. Strings of different lengths never match.`,
        reference: py`
          def isomorphic(a, b):
              ${fold ? 'a, b = a.lower(), b.lower()' : 'pass'}
              if len(a) != len(b):
                  return False
              forward, backward = {}, {}
              for x, y in zip(a, b):
                  if forward.setdefault(x, y) != y${bijection ? ' or backward.setdefault(y, x) != x' : ''}:
                      return False
              return True
        `,
        inputs: cases((i) =>
          drawWhere(
            () => {
              const a = word(rng, `${alphabet}A`, 1, 7);
              if (rng.next() < 0.5) return [a, word(rng, 'pqP', a.length, a.length)] as [string, string];
              const map = Object.fromEntries([...`${alphabet}A`].map((c, j) => [c, 'pqPp'[j]!]));
              return [a, [...a].map((c) => map[c]).join('')] as [string, string];
            },
            ([a, b]) => matches(a, b, bijection, fold),
            i % 2 === 0,
          ),
        ),
      };
    },
  },
  {
    id: 'longest-palindromic-substring',
    difficulty: 'hard',
    make: (rng) => {
      const alphabet = rng.pick(['ab', 'abc', 'aab', 'xyzx']);
      const last = rng.next() < 0.5;
      const minLength = rng.int(1, 3);
      return {
        entryPoint: 'longest_palindrome',
        description: `Write a function \`longest_palindrome(s)\` that returns the longest substring of s that reads the same backwards; if several have that length, return the one that starts ${last ? 'last' : 'first'}. If it is shorter than ${minLength} character(s) (or s is empty), return "".`,
        reference: py`
          def longest_palindrome(s):
              best, best_key = '', None
              for i in range(len(s)):
                  for j in range(i + 1, len(s) + 1):
                      piece = s[i:j]
                      key = (len(piece), ${last ? 'i' : '-i'})
                      if piece == piece[::-1] and (best_key is None or key > best_key):
                          best, best_key = piece, key
              return best if len(best) >= ${minLength} else ''
        `,
        inputs: cases((i) => [i === 0 ? '' : word(rng, alphabet, 1, 14)]),
      };
    },
  },
  {
    id: 'word-wrap',
    difficulty: 'medium',
    make: (rng) => {
      const width = rng.int(6, 16);
      return {
        entryPoint: 'wrap',
        description: `Write a function \`wrap(text)\` that splits text into words (on whitespace) and fills lines greedily: each line holds as many words as fit in ${width} characters with single spaces between them; a word longer than ${width} gets a line of its own. Return the list of lines ([] for no words).`,
        reference: py`
          def wrap(text):
              lines, line = [], ''
              for w in text.split():
                  if line and len(line) + 1 + len(w) <= ${width}:
                      line += ' ' + w
                  else:
                      if line:
                          lines.append(line)
                      line = w
              if line:
                  lines.append(line)
              return lines
        `,
        inputs: cases((i) => [i === 0 ? '' : sentence(rng, 1, 10, [...WORDS, 'extraordinarily', 'a'])]),
      };
    },
  },
  {
    id: 'count-substring-overlaps',
    difficulty: 'easy',
    make: (rng) => {
      const needle = word(rng, 'ab', 2, 3);
      return {
        entryPoint: 'count_overlapping',
        description: `Write a function \`count_overlapping(s)\` that returns how many times ${JSON.stringify(needle)} occurs in s, counting overlapping occurrences ("aaa" contains "aa" twice).`,
        reference: py`
          def count_overlapping(s):
              return sum(1 for i in range(len(s)) if s.startswith(${JSON.stringify(needle)}, i))
        `,
        inputs: cases(() => [word(rng, 'ab', 0, 12)]),
      };
    },
  },
];

function toRoman(n: number): string {
  const table: Array<[number, string]> = [
    [1000, 'M'],
    [900, 'CM'],
    [500, 'D'],
    [400, 'CD'],
    [100, 'C'],
    [90, 'XC'],
    [50, 'L'],
    [40, 'XL'],
    [10, 'X'],
    [9, 'IX'],
    [5, 'V'],
    [4, 'IV'],
    [1, 'I'],
  ];
  let out = '';
  for (const [value, letters] of table) {
    while (n >= value) {
      out += letters;
      n -= value;
    }
  }
  return out;
}

/** The isomorphism the `isomorphic-strings` family asks for. */
function matches(a: string, b: string, bijection: boolean, fold: boolean): boolean {
  if (fold) [a, b] = [a.toLowerCase(), b.toLowerCase()];
  if (a.length !== b.length) return false;
  const forward = new Map<string, string>();
  const backward = new Map<string, string>();
  for (let i = 0; i < a.length; i++) {
    const [x, y] = [a[i]!, b[i]!];
    if ((forward.get(x) ?? y) !== y || (bijection && (backward.get(y) ?? x) !== x)) return false;
    forward.set(x, y);
    backward.set(y, x);
  }
  return true;
}
