import type { Rng } from '@toolgym/protocol';
import { cases, drawWhere, ints, py, word } from './draw.ts';
import type { ProgrammingTemplate } from './template.ts';

/**
 * The first problem templates, at three difficulty levels. Constants vary per variant (seeded),
 * so one template (a problem family) yields many distinct problems; references are plain Python
 * the oracle writes verbatim.
 */
export const CLASSIC_TEMPLATES: ProgrammingTemplate[] = [
  {
    id: 'add-constant',
    difficulty: 'easy',
    make: (rng) => {
      const k = rng.int(2, 99);
      return {
        entryPoint: 'add_constant',
        description: `Write a function \`add_constant(x)\` that returns the integer x plus ${k}.`,
        reference: `def add_constant(x):\n    return x + ${k}\n`,
        inputs: cases(() => [rng.int(-1000, 1000)]),
      };
    },
  },
  {
    id: 'scaled-sum',
    difficulty: 'easy',
    make: (rng) => {
      const k = rng.int(2, 9);
      return {
        entryPoint: 'scaled_sum',
        description: `Write a function \`scaled_sum(nums)\` that returns the sum of the integers in the list nums, each multiplied by ${k}. An empty list gives 0.`,
        reference: `def scaled_sum(nums):\n    return sum(n * ${k} for n in nums)\n`,
        inputs: cases((i) => [ints(rng, i === 3 ? 0 : rng.int(1, 8), -50, 50)]),
      };
    },
  },
  {
    id: 'count-multiples',
    difficulty: 'easy',
    make: (rng) => {
      const k = rng.int(2, 13);
      return {
        entryPoint: 'count_multiples',
        description: `Write a function \`count_multiples(n)\` that returns how many integers i with 1 <= i <= n are divisible by ${k}. For n < 1 return 0.`,
        reference: `def count_multiples(n):\n    return n // ${k} if n >= 1 else 0\n`,
        inputs: cases((i) => [i === 0 ? 0 : rng.int(1, 500)]),
      };
    },
  },
  {
    id: 'clamp',
    difficulty: 'easy',
    make: (rng) => {
      const lo = rng.int(-50, 0);
      const hi = rng.int(1, 60);
      return {
        entryPoint: 'clamp',
        description: `Write a function \`clamp(x)\` that returns x limited to the range [${lo}, ${hi}]: ${lo} if x is smaller, ${hi} if x is larger, otherwise x.`,
        reference: `def clamp(x):\n    return max(${lo}, min(${hi}, x))\n`,
        // below, inside and above the range in turn, so no one answer dominates
        inputs: cases((i) => [[rng.int(lo - 60, lo - 1), rng.int(lo, hi), rng.int(hi + 1, hi + 60)][i % 3]!]),
      };
    },
  },
  {
    id: 'repeat-joined',
    difficulty: 'easy',
    make: (rng) => {
      const k = rng.int(2, 5);
      const sep = rng.pick(['-', '+', ', ', '|', ' ']);
      return {
        entryPoint: 'repeat_joined',
        description: `Write a function \`repeat_joined(s)\` that returns the string s repeated ${k} times, joined by ${JSON.stringify(sep)}.`,
        reference: `def repeat_joined(s):\n    return ${JSON.stringify(sep)}.join([s] * ${k})\n`,
        inputs: cases(() => [word(rng, 'abcxyz', 0, 5)]),
      };
    },
  },
  {
    id: 'last-digits',
    difficulty: 'easy',
    make: (rng) => {
      const k = rng.int(1, 4);
      return {
        entryPoint: 'last_digits',
        description: `Write a function \`last_digits(n)\` that returns the number formed by the last ${k} decimal digits of the non-negative integer n (that is, n modulo 10**${k}).`,
        reference: `def last_digits(n):\n    return n % ${10 ** k}\n`,
        inputs: cases(() => [rng.int(0, 10_000_000)]),
      };
    },
  },
  {
    id: 'divisible-by-both',
    difficulty: 'easy',
    make: (rng) => {
      const a = rng.int(2, 7);
      const b = rng.int(2, 11);
      return {
        entryPoint: 'divisible_by_both',
        description: `Write a function \`divisible_by_both(n)\` that returns True if the integer n is divisible by both ${a} and ${b}, otherwise False.`,
        reference: `def divisible_by_both(n):\n    return n % ${a} == 0 and n % ${b} == 0\n`,
        inputs: cases((i) => [i % 2 === 0 ? a * b * rng.int(1, 30) : rng.int(1, 1000)]),
      };
    },
  },
  {
    id: 'count-char',
    difficulty: 'easy',
    make: (rng) => {
      const c = rng.pick([...'aeiostnrl']);
      return {
        entryPoint: 'count_char',
        description: `Write a function \`count_char(s)\` that returns how many times the lowercase letter '${c}' occurs in the string s (case-insensitive: '${c.toUpperCase()}' counts too).`,
        reference: `def count_char(s):\n    return s.lower().count('${c}')\n`,
        inputs: cases(() => [word(rng, 'aeiostnrlAEIOSTNRLbcd ', 0, 14)]),
      };
    },
  },
  {
    id: 'caesar',
    difficulty: 'medium',
    make: (rng) => {
      const k = rng.int(1, 25);
      return {
        entryPoint: 'caesar',
        description: `Write a function \`caesar(s)\` that shifts every ASCII letter of s forward by ${k} places in the alphabet, wrapping from z to a and keeping case; other characters are unchanged.`,
        reference: `def caesar(s):\n    out = []\n    for ch in s:\n        if 'a' <= ch <= 'z':\n            out.append(chr((ord(ch) - 97 + ${k}) % 26 + 97))\n        elif 'A' <= ch <= 'Z':\n            out.append(chr((ord(ch) - 65 + ${k}) % 26 + 65))\n        else:\n            out.append(ch)\n    return ''.join(out)\n`,
        inputs: cases(() => [word(rng, 'abcxyzABCXYZ !.', 0, 12)]),
      };
    },
  },
  {
    id: 'prefix-sums-mod',
    difficulty: 'medium',
    make: (rng) => {
      const m = rng.int(5, 97);
      return {
        entryPoint: 'prefix_sums_mod',
        description: `Write a function \`prefix_sums_mod(nums)\` that returns the list of running sums of nums, each taken modulo ${m} (Python's % operator).`,
        reference: `def prefix_sums_mod(nums):\n    out, total = [], 0\n    for n in nums:\n        total += n\n        out.append(total % ${m})\n    return out\n`,
        inputs: cases(() => [ints(rng, rng.int(0, 9), -100, 100)]),
      };
    },
  },
  {
    id: 'chunk',
    difficulty: 'medium',
    make: (rng) => {
      const k = rng.int(2, 5);
      return {
        entryPoint: 'chunk',
        description: `Write a function \`chunk(items)\` that splits the list items into consecutive lists of ${k} elements; the last list may be shorter. An empty list gives [].`,
        reference: `def chunk(items):\n    return [items[i:i + ${k}] for i in range(0, len(items), ${k})]\n`,
        inputs: cases(() => [ints(rng, rng.int(0, 13), 0, 9)]),
      };
    },
  },
  {
    id: 'most-common-char',
    difficulty: 'medium',
    make: (rng) => {
      const alphabet = rng.pick(['abc', 'abcd', 'xyz', 'mnop', 'abcde']);
      const least = rng.next() < 0.5;
      const lastOnTie = rng.next() < 0.5;
      return {
        entryPoint: 'most_common_char',
        description: `Write a function \`most_common_char(s)\` that returns the character occurring ${least ? 'least' : 'most'} often in the non-empty string s (among the characters it contains); on a tie return the one that comes ${lastOnTie ? 'last' : 'first'} in alphabetical order.`,
        reference: py`
          def most_common_char(s):
              counts = {}
              for ch in s:
                  counts[ch] = counts.get(ch, 0) + 1
              return ${lastOnTie ? 'max' : 'min'}(counts, key=lambda ch: (${least ? (lastOnTie ? '-' : '') : lastOnTie ? '' : '-'}counts[ch], ch))
        `,
        inputs: cases(() => [word(rng, alphabet, 1, 12)]),
      };
    },
  },
  {
    id: 'fizzbuzz',
    difficulty: 'medium',
    make: (rng) => {
      const a = rng.int(2, 5);
      let b = rng.int(3, 8);
      if (b === a) b++;
      return {
        entryPoint: 'fizzbuzz',
        description: `Write a function \`fizzbuzz(n)\` returning a list of strings for i = 1..n: "FizzBuzz" if i is divisible by both ${a} and ${b}, "Fizz" if only by ${a}, "Buzz" if only by ${b}, otherwise str(i).`,
        reference: `def fizzbuzz(n):\n    out = []\n    for i in range(1, n + 1):\n        if i % ${a} == 0 and i % ${b} == 0:\n            out.append('FizzBuzz')\n        elif i % ${a} == 0:\n            out.append('Fizz')\n        elif i % ${b} == 0:\n            out.append('Buzz')\n        else:\n            out.append(str(i))\n    return out\n`,
        inputs: cases(() => [rng.int(0, 30)]),
      };
    },
  },
  {
    id: 'digit-power-sum',
    difficulty: 'medium',
    make: (rng) => {
      const k = rng.int(2, 5);
      return {
        entryPoint: 'digit_power_sum',
        description: `Write a function \`digit_power_sum(n)\` that returns the sum of the decimal digits of the non-negative integer n, each raised to the power ${k}.`,
        reference: `def digit_power_sum(n):\n    return sum(int(d) ** ${k} for d in str(n))\n`,
        inputs: cases(() => [rng.int(0, 1_000_000)]),
      };
    },
  },
  {
    id: 'rotate-right',
    difficulty: 'medium',
    make: (rng) => {
      const k = rng.int(1, 7);
      return {
        entryPoint: 'rotate_right',
        description: `Write a function \`rotate_right(items)\` that returns the list rotated right by ${k} positions (the last element moves to the front, ${k} times). An empty list stays empty.`,
        reference: `def rotate_right(items):\n    if not items:\n        return []\n    k = ${k} % len(items)\n    return items[-k:] + items[:-k] if k else list(items)\n`,
        inputs: cases(() => [ints(rng, rng.int(0, 9), 0, 50)]),
      };
    },
  },
  {
    id: 'long-words',
    difficulty: 'medium',
    make: (rng) => {
      const k = rng.int(2, 5);
      return {
        entryPoint: 'long_words',
        description: `Write a function \`long_words(sentence)\` that returns the list of words (split on whitespace) longer than ${k} characters, in their original order.`,
        reference: `def long_words(sentence):\n    return [w for w in sentence.split() if len(w) > ${k}]\n`,
        inputs: cases(() => [
          Array.from({ length: rng.int(0, 6) }, () => word(rng, 'abcdefgh', 1, 8)).join(' '),
        ]),
      };
    },
  },
  {
    id: 'pairs-with-sum',
    difficulty: 'medium',
    make: (rng) => {
      const t = rng.int(5, 20);
      return {
        entryPoint: 'pairs_with_sum',
        description: `Write a function \`pairs_with_sum(nums)\` that returns the number of index pairs (i, j) with i < j and nums[i] + nums[j] == ${t}.`,
        reference: `def pairs_with_sum(nums):\n    return sum(1 for i in range(len(nums)) for j in range(i + 1, len(nums)) if nums[i] + nums[j] == ${t})\n`,
        inputs: cases(() => [ints(rng, rng.int(0, 12), 0, t)]),
      };
    },
  },
  {
    id: 'kth-prime-after',
    difficulty: 'hard',
    make: (rng) => {
      const k = rng.int(1, 6);
      return {
        entryPoint: 'kth_prime_after',
        description: `Write a function \`kth_prime_after(n)\` that returns the ${k}-th smallest prime number strictly greater than the integer n (n may be negative).`,
        reference: `def kth_prime_after(n):\n    def is_prime(m):\n        if m < 2:\n            return False\n        i = 2\n        while i * i <= m:\n            if m % i == 0:\n                return False\n            i += 1\n        return True\n    count, m = 0, n\n    while count < ${k}:\n        m += 1\n        if is_prime(m):\n            count += 1\n    return m\n`,
        inputs: cases(() => [rng.int(-10, 5000)]),
      };
    },
  },
  {
    id: 'longest-step-run',
    difficulty: 'hard',
    make: (rng) => {
      const k = rng.int(1, 3);
      return {
        entryPoint: 'longest_step_run',
        description: `Write a function \`longest_step_run(nums)\` that returns the length of the longest contiguous run in which each element equals the previous one plus ${k}. A single element is a run of length 1; an empty list gives 0.`,
        reference: `def longest_step_run(nums):\n    if not nums:\n        return 0\n    best = cur = 1\n    for a, b in zip(nums, nums[1:]):\n        cur = cur + 1 if b == a + ${k} else 1\n        best = max(best, cur)\n    return best\n`,
        inputs: cases(() => {
          const out: number[] = [];
          let x = rng.int(0, 5);
          for (let i = rng.int(0, 12); i > 0; i--) {
            x = rng.next() < 0.6 ? x + k : rng.int(0, 10);
            out.push(x);
          }
          return [out];
        }),
      };
    },
  },
  {
    id: 'collatz-steps',
    difficulty: 'hard',
    make: (rng) => {
      const cap = rng.int(20, 200);
      return {
        entryPoint: 'collatz_steps',
        description: `Write a function \`collatz_steps(n)\` for a positive integer n: repeatedly replace n by n // 2 if it is even or 3 * n + 1 if it is odd, and return the number of replacements until n becomes 1 — but stop counting at ${cap} (return ${cap} if 1 is not reached within ${cap} steps).`,
        reference: `def collatz_steps(n):\n    steps = 0\n    while n != 1 and steps < ${cap}:\n        n = n // 2 if n % 2 == 0 else 3 * n + 1\n        steps += 1\n    return steps\n`,
        inputs: cases((i) => [i === 0 ? 1 : rng.int(1, 10_000)]),
      };
    },
  },
  {
    id: 'min-coins',
    difficulty: 'hard',
    make: (rng) => {
      const coins = [...new Set([rng.int(2, 4), rng.int(5, 9), rng.int(10, 25)])].sort((a, b) => a - b);
      return {
        entryPoint: 'min_coins',
        description: `Write a function \`min_coins(amount)\` that returns the fewest coins of values ${JSON.stringify(coins)} (any number of each) summing exactly to the non-negative integer amount, or -1 if it cannot be done.`,
        reference: `def min_coins(amount):\n    coins = ${JSON.stringify(coins)}\n    inf = float('inf')\n    best = [0] + [inf] * amount\n    for a in range(1, amount + 1):\n        for c in coins:\n            if c <= a and best[a - c] + 1 < best[a]:\n                best[a] = best[a - c] + 1\n    return best[amount] if best[amount] != inf else -1\n`,
        inputs: cases(() => [rng.int(0, 120)]),
      };
    },
  },
  {
    id: 'balanced-brackets',
    difficulty: 'hard',
    make: (rng) => {
      const pairs = rng.pick(['()', '()[]', '(){}', '()[]{}', '[]<>']);
      const opens = pairs
        .split('')
        .filter((_, i) => i % 2 === 0)
        .join('');
      const closes = pairs
        .split('')
        .filter((_, i) => i % 2 === 1)
        .join('');
      return {
        entryPoint: 'balanced',
        description: `Write a function \`balanced(s)\` that returns True if the brackets ${[...opens].map((o, i) => `${o}${closes[i]}`).join(' ')} in s are balanced and properly nested, otherwise False. Other characters are ignored.`,
        reference: `def balanced(s):\n    opens, closes = ${JSON.stringify(opens)}, ${JSON.stringify(closes)}\n    stack = []\n    for ch in s:\n        if ch in opens:\n            stack.append(ch)\n        elif ch in closes:\n            if not stack or opens.index(stack.pop()) != closes.index(ch):\n                return False\n    return not stack\n`,
        inputs: cases((i) =>
          drawWhere(
            () => [i % 2 === 0 ? nested(rng, pairs, 3) : word(rng, `${pairs}${pairs}x`, 0, 10)] as [string],
            ([s]) => isBalanced(s, pairs),
            i % 2 === 0,
          ),
        ),
      };
    },
  },
  {
    id: 'edit-distance',
    difficulty: 'hard',
    make: (rng) => {
      const sub = rng.int(1, 3);
      return {
        entryPoint: 'edit_distance',
        description: `Write a function \`edit_distance(a, b)\` that returns the minimum total cost to turn string a into string b, where inserting or deleting a character costs 1 and replacing one character with another costs ${sub}.`,
        reference: `def edit_distance(a, b):\n    prev = list(range(len(b) + 1))\n    for i in range(1, len(a) + 1):\n        cur = [i] + [0] * len(b)\n        for j in range(1, len(b) + 1):\n            same = a[i - 1] == b[j - 1]\n            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (0 if same else ${sub}))\n        prev = cur\n    return prev[len(b)]\n`,
        inputs: cases(() => [word(rng, 'abcd', 0, 7), word(rng, 'abcd', 0, 7)]),
      };
    },
  },
  {
    id: 'to-base',
    difficulty: 'hard',
    make: (rng) => {
      const base = rng.int(2, 16);
      return {
        entryPoint: 'to_base',
        description: `Write a function \`to_base(n)\` that returns the non-negative integer n written in base ${base}, using digits 0-9 then lowercase letters a-f, with no prefix ("0" for zero).`,
        reference: `def to_base(n):\n    digits = '0123456789abcdef'\n    if n == 0:\n        return '0'\n    out = ''\n    while n:\n        out = digits[n % ${base}] + out\n        n //= ${base}\n    return out\n`,
        inputs: cases((i) => [i === 1 ? 0 : rng.int(1, 100_000)]),
      };
    },
  },
  {
    id: 'kth-smallest-distinct',
    difficulty: 'hard',
    make: (rng) => {
      const k = rng.int(1, 4);
      return {
        entryPoint: 'kth_smallest_distinct',
        description: `Write a function \`kth_smallest_distinct(nums)\` that returns the ${k}-th smallest distinct value in the list nums (1-based), or None if there are fewer than ${k} distinct values.`,
        reference: `def kth_smallest_distinct(nums):\n    values = sorted(set(nums))\n    return values[${k - 1}] if len(values) >= ${k} else None\n`,
        inputs: cases(() => [ints(rng, rng.int(0, 9), -5, 9)]),
      };
    },
  },
  {
    id: 'stair-ways',
    difficulty: 'hard',
    make: (rng) => {
      const steps = [...new Set([1, rng.int(2, 3), rng.int(3, 5)])].sort((a, b) => a - b);
      return {
        entryPoint: 'stair_ways',
        description: `Write a function \`stair_ways(n)\` that returns the number of ordered ways to climb exactly n stairs when each move climbs one of ${JSON.stringify(steps)} stairs. stair_ways(0) is 1.`,
        reference: `def stair_ways(n):\n    ways = [1] + [0] * n\n    for i in range(1, n + 1):\n        ways[i] = sum(ways[i - s] for s in ${JSON.stringify(steps)} if s <= i)\n    return ways[n]\n`,
        inputs: cases((i) => [i === 0 ? 0 : rng.int(1, 40)]),
      };
    },
  },
];

/** A properly nested bracket string over `pairs` ("()[]"), with some other characters in it. */
export function nested(rng: Rng, pairs: string, depth: number): string {
  if (depth === 0 || rng.next() < 0.3) return rng.next() < 0.3 ? 'x' : '';
  const k = 2 * rng.int(0, pairs.length / 2 - 1);
  return `${pairs[k]}${nested(rng, pairs, depth - 1)}${pairs[k + 1]}${nested(rng, pairs, depth - 1)}`;
}

function isBalanced(s: string, pairs: string): boolean {
  const stack: string[] = [];
  for (const c of s) {
    const k = pairs.indexOf(c);
    if (k === -1) continue;
    if (k % 2 === 0) stack.push(c);
    else if (stack.pop() !== pairs[k - 1]) return false;
  }
  return stack.length === 0;
}
