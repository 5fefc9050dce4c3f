import type { Rng } from '@toolgym/protocol';
import type { Difficulty } from './programming-templates.ts';

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
];
