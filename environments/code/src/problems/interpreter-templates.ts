import type { Rng } from '@toolgym/protocol';
import { py } from './draw.ts';
import type { Difficulty } from './template.ts';

/** A math question whose answer an integer-printing Python program computes (ToRL-style tasks). */
export interface InterpreterDraft {
  question: string;
  /** A program that prints exactly the answer; run once to fix the gold answer and by the oracle. */
  program: string;
}

export interface InterpreterTemplate {
  id: string;
  difficulty: Difficulty;
  make(rng: Rng): InterpreterDraft;
}

/** Questions that are tedious by hand and easy with a Python tool. */
export const INTERPRETER_TEMPLATES: InterpreterTemplate[] = [
  {
    id: 'sum-of-primes',
    difficulty: 'medium',
    make: (rng) => {
      const n = rng.int(1_000, 50_000);
      return {
        question: `What is the sum of all prime numbers below ${n}?`,
        program: `n = ${n}\nsieve = bytearray([1]) * n\nsieve[:2] = b'\\x00\\x00'\nfor i in range(2, int(n ** 0.5) + 1):\n    if sieve[i]:\n        sieve[i*i::i] = bytearray(len(sieve[i*i::i]))\nprint(sum(i for i in range(n) if sieve[i]))\n`,
      };
    },
  },
  {
    id: 'power-mod',
    difficulty: 'easy',
    make: (rng) => {
      const a = rng.int(2, 99);
      const b = rng.int(100, 100_000);
      const m = rng.pick([1_000_007, 999_983, 1_000_000, 65_537]);
      return { question: `What is ${a}^${b} modulo ${m}?`, program: `print(pow(${a}, ${b}, ${m}))\n` };
    },
  },
  {
    id: 'digit-sum-count',
    difficulty: 'medium',
    make: (rng) => {
      const n = rng.int(1_000, 100_000);
      const k = rng.int(3, 11);
      return {
        question: `How many integers from 1 to ${n} (inclusive) have a decimal digit sum divisible by ${k}?`,
        program: `print(sum(1 for i in range(1, ${n} + 1) if sum(map(int, str(i))) % ${k} == 0))\n`,
      };
    },
  },
  {
    id: 'fibonacci-mod',
    difficulty: 'easy',
    make: (rng) => {
      const n = rng.int(100, 5_000);
      const m = rng.int(1_000, 1_000_000);
      return {
        question: `Let F(0) = 0, F(1) = 1 and F(k) = F(k-1) + F(k-2). What is F(${n}) modulo ${m}?`,
        program: `a, b = 0, 1\nfor _ in range(${n}):\n    a, b = b, a + b\nprint(a % ${m})\n`,
      };
    },
  },
  {
    id: 'lattice-points',
    difficulty: 'medium',
    make: (rng) => {
      const r = rng.int(10, 150);
      return {
        question: `How many points (x, y) with integer coordinates satisfy x^2 + y^2 <= ${r * r}?`,
        program: `r = ${r}\nprint(sum(1 for x in range(-r, r + 1) for y in range(-r, r + 1) if x * x + y * y <= r * r))\n`,
      };
    },
  },
  {
    id: 'divisor-count',
    difficulty: 'hard',
    make: (rng) => {
      const n = rng.int(10, 40);
      return {
        question: `How many positive divisors does ${n}! (${n} factorial) have?`,
        program: `import math\nn = math.factorial(${n})\ncount, p = 1, 2\nwhile n > 1:\n    e = 0\n    while n % p == 0:\n        n //= p\n        e += 1\n    count *= e + 1\n    p += 1\nprint(count)\n`,
      };
    },
  },
  {
    id: 'collatz-longest',
    difficulty: 'hard',
    make: (rng) => {
      const n = rng.int(100, 5_000);
      return {
        question: `Among the starting values 1 to ${n}, which one takes the most Collatz steps (n -> n/2 if even, 3n+1 if odd) to reach 1? If several tie, give the smallest.`,
        program: `best, arg = -1, 0\nfor s in range(1, ${n} + 1):\n    n, steps = s, 0\n    while n != 1:\n        n = n // 2 if n % 2 == 0 else 3 * n + 1\n        steps += 1\n    if steps > best:\n        best, arg = steps, s\nprint(arg)\n`,
      };
    },
  },
  {
    id: 'coprime-count',
    difficulty: 'medium',
    make: (rng) => {
      const n = rng.int(1_000, 200_000);
      return {
        question: `How many integers k with 1 <= k <= ${n} satisfy gcd(k, ${n}) = 1?`,
        program: `import math\nprint(sum(1 for k in range(1, ${n} + 1) if math.gcd(k, ${n}) == 1))\n`,
      };
    },
  },
  {
    id: 'binomial-mod',
    difficulty: 'easy',
    make: (rng) => {
      const n = rng.int(50, 2_000);
      const k = rng.int(2, Math.floor(n / 2));
      const m = rng.pick([1_000_007, 998_244_353, 10_007]);
      return {
        question: `What is the binomial coefficient C(${n}, ${k}) modulo ${m}?`,
        program: py`
          import math
          print(math.comb(${n}, ${k}) % ${m})
        `,
      };
    },
  },
  {
    id: 'catalan-mod',
    difficulty: 'medium',
    make: (rng) => {
      const n = rng.int(20, 400);
      const m = rng.pick([1_000_007, 1_000_000, 65_537]);
      return {
        question: `How many ways are there to arrange ${n} pairs of parentheses so that they are balanced? Give the count modulo ${m}.`,
        program: py`
          import math
          n = ${n}
          print(math.comb(2 * n, n) // (n + 1) % ${m})
        `,
      };
    },
  },
  {
    id: 'partition-count',
    difficulty: 'hard',
    make: (rng) => {
      const n = rng.int(30, 400);
      return {
        question: `In how many ways can ${n} be written as a sum of positive integers, ignoring the order of the terms (the partition number p(${n}))?`,
        program: py`
          n = ${n}
          ways = [1] + [0] * n
          for part in range(1, n + 1):
              for total in range(part, n + 1):
                  ways[total] += ways[total - part]
          print(ways[n])
        `,
      };
    },
  },
  {
    id: 'palindromic-primes',
    difficulty: 'medium',
    make: (rng) => {
      const n = rng.int(1_000, 200_000);
      return {
        question: `How many prime numbers below ${n} read the same forwards and backwards in decimal?`,
        program: py`
          n = ${n}
          sieve = bytearray([1]) * n
          sieve[:2] = b'\x00\x00'
          for i in range(2, int(n ** 0.5) + 1):
              if sieve[i]:
                  sieve[i * i::i] = bytearray(len(sieve[i * i::i]))
          print(sum(1 for p in range(n) if sieve[p] and str(p) == str(p)[::-1]))
        `,
      };
    },
  },
  {
    id: 'pythagorean-triples',
    difficulty: 'hard',
    make: (rng) => {
      const p = rng.int(100, 800);
      return {
        question: `How many right triangles with integer side lengths a < b < c have a perimeter a + b + c of at most ${p}?`,
        program: py`
          limit = ${p}
          count = 0
          for a in range(1, limit):
              for b in range(a + 1, (limit - a) // 2 + 1):
                  c2 = a * a + b * b
                  c = int(c2 ** 0.5)
                  while c * c < c2:
                      c += 1
                  if c * c == c2 and a + b + c <= limit:
                      count += 1
          print(count)
        `,
      };
    },
  },
  {
    id: 'digit-factorial-sum',
    difficulty: 'easy',
    make: (rng) => {
      const n = rng.int(100, 5_000);
      return {
        question: `What is the sum, over all integers k from 1 to ${n}, of the sum of the factorials of k's decimal digits (for k = 145: 1! + 4! + 5! = 145)?`,
        program: py`
          import math
          print(sum(sum(math.factorial(int(d)) for d in str(k)) for k in range(1, ${n} + 1)))
        `,
      };
    },
  },
];
