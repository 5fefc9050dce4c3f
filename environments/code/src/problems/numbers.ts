import { cases, drawWhere, ints, py } from './draw.ts';
import type { ProgrammingTemplate } from './template.ts';

const ARMSTRONG = [1, 2, 3, 4, 5, 6, 7, 8, 9, 153, 370, 371, 407, 1634, 8208, 9474, 54748, 92727, 93084];

/** Problem families on integers and floats: digits, divisors, bases, rounding, means. */
export const NUMBER_TEMPLATES: ProgrammingTemplate[] = [
  {
    id: 'digit-sum-in-base',
    difficulty: 'medium',
    make: (rng) => {
      const base = rng.pick([2, 3, 5, 7, 8, 9, 11, 12, 16]);
      return {
        entryPoint: 'digit_sum_in_base',
        description: `Write a function \`digit_sum_in_base(n)\` that returns the sum of the digits of the non-negative integer n written in base ${base}.`,
        reference: py`
          def digit_sum_in_base(n):
              total = 0
              while n:
                  total += n % ${base}
                  n //= ${base}
              return total
        `,
        inputs: cases((i) => [i === 0 ? 0 : rng.int(1, 10 ** rng.int(1, 9))]),
      };
    },
  },
  {
    id: 'gcd-of-list',
    difficulty: 'easy',
    make: (rng) => {
      const scale = rng.int(2, 12);
      return {
        entryPoint: 'gcd_of_list',
        description: `Write a function \`gcd_of_list(nums)\` that returns the greatest common divisor of the integers in nums multiplied by ${scale}. The gcd of an empty list is 0; signs are ignored.`,
        reference: py`
          def gcd_of_list(nums):
              g = 0
              for n in nums:
                  a, b = abs(g), abs(n)
                  while b:
                      a, b = b, a % b
                  g = a
              return g * ${scale}
        `,
        inputs: cases((i) => {
          const f = rng.int(1, 9);
          return [i === 0 ? [] : ints(rng, rng.int(1, 5), -20, 20).map((x) => x * f)];
        }),
      };
    },
  },
  {
    id: 'is-power-of',
    difficulty: 'easy',
    make: (rng) => {
      const k = rng.int(2, 7);
      return {
        entryPoint: 'is_power_of',
        description: `Write a function \`is_power_of(n)\` that returns True if the integer n equals ${k} ** e for some integer e >= 0, otherwise False.`,
        reference: py`
          def is_power_of(n):
              if n < 1:
                  return False
              while n % ${k} == 0:
                  n //= ${k}
              return n == 1
        `,
        inputs: cases((i) => [i % 2 === 0 ? k ** rng.int(0, 12) : rng.int(-5, 5000)]),
      };
    },
  },
  {
    id: 'reverse-integer',
    difficulty: 'easy',
    make: (rng) => {
      const add = rng.int(0, 50);
      return {
        entryPoint: 'reverse_integer',
        description: `Write a function \`reverse_integer(n)\` that reverses the decimal digits of the integer n, keeping its sign (leading zeros of the result vanish), and adds ${add}. For example, -120 reverses to -21.`,
        reference: py`
          def reverse_integer(n):
              sign = -1 if n < 0 else 1
              return sign * int(str(abs(n))[::-1]) + ${add}
        `,
        inputs: cases((i) => [i === 0 ? rng.int(1, 9) * 100 : rng.int(-100_000, 100_000)]),
      };
    },
  },
  {
    id: 'divisor-count-above',
    difficulty: 'medium',
    make: (rng) => {
      const k = rng.int(1, 6);
      return {
        entryPoint: 'divisor_count_above',
        description: `Write a function \`divisor_count_above(n)\` that returns how many positive divisors of the positive integer n are greater than ${k}.`,
        reference: py`
          def divisor_count_above(n):
              count = 0
              d = 1
              while d * d <= n:
                  if n % d == 0:
                      for e in {d, n // d}:
                          if e > ${k}:
                              count += 1
                  d += 1
              return count
        `,
        inputs: cases(() => [rng.int(1, 200_000)]),
      };
    },
  },
  {
    id: 'number-class',
    difficulty: 'medium',
    make: (rng) => {
      const [perfect, abundant, deficient] = rng.pick([
        ['perfect', 'abundant', 'deficient'],
        ['P', 'A', 'D'],
        ['exact', 'rich', 'poor'],
        ['balanced', 'over', 'under'],
      ]);
      return {
        entryPoint: 'number_class',
        description: `Write a function \`number_class(n)\` for a positive integer n: let s be the sum of its divisors smaller than n. Return "${perfect}" if s == n, "${abundant}" if s > n, and "${deficient}" if s < n.`,
        reference: py`
          def number_class(n):
              s = sum(d for d in range(1, n) if n % d == 0)
              return ${JSON.stringify(perfect)} if s == n else (${JSON.stringify(abundant)} if s > n else ${JSON.stringify(deficient)})
        `,
        // perfect, abundant and deficient numbers in turn
        inputs: cases((i) =>
          i % 3 === 0
            ? [rng.pick([6, 28, 496, 8128])]
            : drawWhere(
                () => [rng.int(1, 3000)] as [number],
                ([n]) => properDivisorSum(n) > n,
                i % 3 === 1,
              ),
        ),
      };
    },
  },
  {
    id: 'round-to-multiple',
    difficulty: 'easy',
    make: (rng) => {
      const k = rng.int(3, 25);
      return {
        entryPoint: 'round_to_multiple',
        description: `Write a function \`round_to_multiple(n)\` that returns the multiple of ${k} nearest to the integer n; when n is exactly halfway between two multiples, return the larger one.`,
        reference: py`
          def round_to_multiple(n):
              low = (n // ${k}) * ${k}
              return low if (n - low) * 2 < ${k} else low + ${k}
        `,
        inputs: cases((i) => [i === 1 && k % 2 === 0 ? k * rng.int(-9, 9) + k / 2 : rng.int(-1000, 1000)]),
      };
    },
  },
  {
    id: 'integer-root',
    difficulty: 'medium',
    make: (rng) => {
      const r = rng.int(2, 4);
      return {
        entryPoint: 'integer_root',
        description: `Write a function \`integer_root(n)\` that returns the largest integer x with x ** ${r} <= n, for a non-negative integer n (exactly, even where floats would round).`,
        reference: py`
          def integer_root(n):
              lo, hi = 0, 1
              while hi ** ${r} <= n:
                  hi *= 2
              while lo < hi - 1:
                  mid = (lo + hi) // 2
                  if mid ** ${r} <= n:
                      lo = mid
                  else:
                      hi = mid
              return lo if n > 0 else 0
        `,
        // Below 2**53, so every input is exact in JSON.
        inputs: cases((i) => [i % 3 === 0 ? rng.int(2, 3000) ** r : rng.int(0, 2 ** rng.int(4, 50))]),
      };
    },
  },
  {
    id: 'set-bits-above',
    difficulty: 'easy',
    make: (rng) => {
      const skip = rng.int(0, 4);
      return {
        entryPoint: 'set_bits_above',
        description: `Write a function \`set_bits_above(n)\` that returns how many 1 bits the binary representation of the non-negative integer n has at positions ${skip} and higher (position 0 is the least significant bit).`,
        reference: py`
          def set_bits_above(n):
              return bin(n >> ${skip}).count('1')
        `,
        inputs: cases(() => [rng.int(0, 2 ** rng.int(1, 40))]),
      };
    },
  },
  {
    id: 'armstrong-number',
    difficulty: 'easy',
    make: (rng) => {
      const offset = rng.int(0, 9);
      return {
        entryPoint: 'is_armstrong',
        description: `Write a function \`is_armstrong(n)\` that returns True if the positive integer n - ${offset} equals the sum of its own decimal digits, each raised to the power of its number of digits (for example 153 = 1**3 + 5**3 + 3**3); otherwise False (also when n - ${offset} < 1).`,
        reference: py`
          def is_armstrong(n):
              m = n - ${offset}
              if m < 1:
                  return False
              digits = str(m)
              return m == sum(int(d) ** len(digits) for d in digits)
        `,
        inputs: cases((i) => [(i % 2 === 0 ? rng.pick(ARMSTRONG) : rng.int(1, 100_000)) + offset]),
      };
    },
  },
  {
    id: 'mean-of-top',
    difficulty: 'easy',
    make: (rng) => {
      const k = rng.int(2, 4);
      return {
        entryPoint: 'mean_of_top',
        description: `Write a function \`mean_of_top(nums)\` that returns the mean (a float) of the ${k} largest numbers of the list nums, or of all of them if it has fewer; an empty list gives 0.0.`,
        reference: py`
          def mean_of_top(nums):
              top = sorted(nums, reverse=True)[:${k}]
              return sum(top) / len(top) if top else 0.0
        `,
        inputs: cases((i) => [i === 0 ? [] : ints(rng, rng.int(1, 8), -50, 100)]),
        floatTolerance: 1e-9,
      };
    },
  },
  {
    id: 'compound-growth',
    difficulty: 'easy',
    make: (rng) => {
      const rate = rng.pick([1.5, 2, 2.5, 3, 4, 5, 6.5, 7]);
      return {
        entryPoint: 'compound_growth',
        description: `Write a function \`compound_growth(amount, years)\` that returns the float value of amount after the given whole number of years at ${rate}% interest per year, compounded yearly.`,
        reference: py`
          def compound_growth(amount, years):
              return amount * (1 + ${rate} / 100) ** years
        `,
        inputs: cases(() => [rng.int(1, 10_000), rng.int(0, 40)]),
        floatTolerance: 1e-9,
      };
    },
  },
  {
    id: 'manhattan-farthest',
    difficulty: 'medium',
    make: (rng) => {
      const [ox, oy] = [rng.int(-5, 5), rng.int(-5, 5)];
      return {
        entryPoint: 'farthest_point',
        description: `Write a function \`farthest_point(points)\` that takes a non-empty list of [x, y] integer pairs and returns the pair (as a list) farthest from (${ox}, ${oy}) in Manhattan distance; on a tie, the one that comes first in the list.`,
        reference: py`
          def farthest_point(points):
              best = points[0]
              for p in points[1:]:
                  if abs(p[0] - ${ox}) + abs(p[1] - ${oy}) > abs(best[0] - ${ox}) + abs(best[1] - ${oy}):
                      best = p
              return best
        `,
        inputs: cases(() => [Array.from({ length: rng.int(1, 6) }, () => ints(rng, 2, -10, 10))]),
      };
    },
  },
  {
    id: 'day-of-year',
    difficulty: 'medium',
    make: (rng) => {
      const shift = rng.int(0, 30);
      return {
        entryPoint: 'day_of_year',
        description: `Write a function \`day_of_year(year, month, day)\` that returns the day's number within its year (1 January is 1) plus ${shift}, using the Gregorian leap-year rule (divisible by 4, except centuries not divisible by 400). Do not import datetime or calendar.`,
        reference: py`
          def day_of_year(year, month, day):
              leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
              lengths = [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
              return sum(lengths[:month - 1]) + day + ${shift}
        `,
        inputs: cases((i) => [
          i < 3 ? rng.pick([1900, 2000, 2024, 2023, 2100]) : rng.int(1600, 2400),
          rng.int(1, 12),
          rng.int(1, 28),
        ]),
      };
    },
  },
  {
    id: 'pascal-row-mod',
    difficulty: 'medium',
    make: (rng) => {
      const m = rng.pick([7, 10, 13, 100, 1000]);
      return {
        entryPoint: 'pascal_row',
        description: `Write a function \`pascal_row(n)\` that returns row n of Pascal's triangle (row 0 is [1], row 2 is [1, 2, 1]) with every entry taken modulo ${m}.`,
        reference: py`
          def pascal_row(n):
              row = [1]
              for _ in range(n):
                  row = [1] + [row[i] + row[i + 1] for i in range(len(row) - 1)] + [1]
              return [x % ${m} for x in row]
        `,
        inputs: cases((i) => [i === 0 ? 0 : rng.int(1, 30)]),
      };
    },
  },
];

function properDivisorSum(n: number): number {
  let sum = 0;
  for (let d = 1; d < n; d++) if (n % d === 0) sum += d;
  return sum;
}
