import type { Rng } from '@toolgym/protocol';
import { nested } from './classic.ts';
import { cases, drawWhere, ints, py, word } from './draw.ts';
import type { ProgrammingTemplate } from './template.ts';

const grid = (rng: Rng, rows: number, cols: number, wall: number) =>
  Array.from({ length: rows }, () =>
    Array.from({ length: cols }, () => (rng.next() < wall ? '#' : '.')).join(''),
  );

/** Problem families on classic algorithms: search, dynamic programming, graphs, parsing. */
export const ALGORITHM_TEMPLATES: ProgrammingTemplate[] = [
  {
    id: 'insertion-point',
    difficulty: 'medium',
    make: (rng) => {
      const right = rng.next() < 0.5;
      const key = rng.pick(['x', 'abs(x)', '-x']);
      const order = { x: 'ascending', 'abs(x)': 'ascending by absolute value', '-x': 'descending' }[key];
      return {
        entryPoint: 'insertion_point',
        description: `Write a function \`insertion_point(nums, x)\` that, for a list nums sorted ${order}, returns the index at which x would be inserted to keep it so sorted — ${right ? 'after' : 'before'} any elements that compare equal to x in that order. Do not import bisect.`,
        reference: py`
          def insertion_point(nums, x):
              lo, hi = 0, len(nums)
              while lo < hi:
                  mid = (lo + hi) // 2
                  if (lambda x: ${key})(nums[mid]) ${right ? '<=' : '<'} (lambda x: ${key})(x):
                      lo = mid + 1
                  else:
                      hi = mid
              return lo
        `,
        inputs: cases(() => {
          const sortKey = (v: number) => (key === 'x' ? v : key === '-x' ? -v : Math.abs(v));
          const nums = ints(rng, rng.int(0, 9), key === 'abs(x)' ? -12 : 0, 12).sort(
            (a, b) => sortKey(a) - sortKey(b),
          );
          return [nums, rng.int(-13, 13)];
        }),
      };
    },
  },
  {
    id: 'knapsack',
    difficulty: 'hard',
    make: (rng) => {
      const items = Array.from({ length: rng.int(4, 6) }, () => [rng.int(1, 9), rng.int(1, 20)]);
      return {
        entryPoint: 'best_value',
        description: `Write a function \`best_value(capacity)\` for the items (weight, value) ${items.map(([w, v]) => `(${w}, ${v})`).join(', ')}: return the largest total value of a set of distinct items whose total weight is at most capacity.`,
        reference: py`
          def best_value(capacity):
              items = ${JSON.stringify(items)}
              best = [0] * (capacity + 1)
              for weight, value in items:
                  for c in range(capacity, weight - 1, -1):
                      best[c] = max(best[c], best[c - weight] + value)
              return best[capacity] if capacity >= 0 else 0
        `,
        inputs: cases(() => [rng.int(0, 40)]),
      };
    },
  },
  {
    id: 'lcs-length',
    difficulty: 'hard',
    make: (rng) => {
      const ignored = rng.pick(['', 'a', 'b', 'c', 'ab']);
      return {
        entryPoint: 'lcs_length',
        description: `Write a function \`lcs_length(a, b)\` that returns the length of the longest common subsequence of the strings a and b${ignored ? ` after removing every character of ${JSON.stringify(ignored)} from both` : ''}.`,
        reference: py`
          def lcs_length(a, b):
              a, b = [c for c in a if c not in ${JSON.stringify(ignored)}], [c for c in b if c not in ${JSON.stringify(ignored)}]
              prev = [0] * (len(b) + 1)
              for x in a:
                  cur = [0]
                  for j, y in enumerate(b):
                      cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
                  prev = cur
              return prev[-1]
        `,
        inputs: cases(() => [word(rng, 'abcd', 0, 9), word(rng, 'abcd', 0, 9)]),
      };
    },
  },
  {
    id: 'grid-paths',
    difficulty: 'hard',
    make: (rng) => {
      const diagonal = rng.next() < 0.5;
      const modulus = rng.pick([7, 10, 1000]);
      return {
        entryPoint: 'count_paths',
        description: `Write a function \`count_paths(grid)\` for a grid given as a list of equal-length strings of '.' (free) and '#' (wall): return the number of paths, modulo ${modulus}, from the top-left to the bottom-right cell moving only right or down${diagonal ? ' or diagonally down-right' : ''} through free cells (0 if either corner is a wall).`,
        reference: py`
          def count_paths(grid):
              rows, cols = len(grid), len(grid[0])
              ways = [[0] * cols for _ in range(rows)]
              for r in range(rows):
                  for c in range(cols):
                      if grid[r][c] == '#':
                          continue
                      if r == 0 and c == 0:
                          ways[r][c] = 1
                          continue
                      ways[r][c] = (ways[r - 1][c] if r else 0) + (ways[r][c - 1] if c else 0)${diagonal ? ' + (ways[r - 1][c - 1] if r and c else 0)' : ''}
              return ways[-1][-1] % ${modulus}
        `,
        inputs: cases(() => [grid(rng, rng.int(1, 6), rng.int(1, 6), 0.12)]),
      };
    },
  },
  {
    id: 'count-islands',
    difficulty: 'hard',
    make: (rng) => {
      const eight = rng.next() < 0.5;
      const minSize = rng.int(1, 3);
      return {
        entryPoint: 'count_islands',
        description: `Write a function \`count_islands(grid)\` for a list of equal-length strings of '#' (land) and '.' (water): return the number of islands of at least ${minSize} cell(s), where land cells belong to one island when they touch ${eight ? 'horizontally, vertically or diagonally' : 'horizontally or vertically'}.`,
        reference: py`
          def count_islands(grid):
              seen = set()
              steps = ${eight ? '[(a, b) for a in (-1, 0, 1) for b in (-1, 0, 1) if a or b]' : '[(1, 0), (-1, 0), (0, 1), (0, -1)]'}
              islands = 0
              for r in range(len(grid)):
                  for c in range(len(grid[0])):
                      if grid[r][c] != '#' or (r, c) in seen:
                          continue
                      size = 0
                      stack = [(r, c)]
                      seen.add((r, c))
                      while stack:
                          y, x = stack.pop()
                          size += 1
                          for dy, dx in steps:
                              ny, nx = y + dy, x + dx
                              if 0 <= ny < len(grid) and 0 <= nx < len(grid[0]) and grid[ny][nx] == '#' and (ny, nx) not in seen:
                                  seen.add((ny, nx))
                                  stack.append((ny, nx))
                      if size >= ${minSize}:
                          islands += 1
              return islands
        `,
        inputs: cases(() => [grid(rng, rng.int(1, 6), rng.int(1, 6), 0.45)]),
      };
    },
  },
  {
    id: 'grid-shortest-path',
    difficulty: 'hard',
    make: (rng) => {
      const wall = rng.pick([0.15, 0.25, 0.3]);
      const diagonal = rng.next() < 0.5;
      const cells = rng.next() < 0.5;
      return {
        entryPoint: 'shortest_path',
        description: `Write a function \`shortest_path(grid)\` for a list of equal-length strings of '.' (free) and '#' (wall): return the ${cells ? 'number of cells on a shortest path (counting both ends)' : 'fewest moves'} from the top-left cell to the bottom-right cell through free cells, moving ${diagonal ? 'to any of the 8 neighbouring cells' : 'up, down, left or right'}; return -1 if it cannot be reached (or a corner is a wall).`,
        reference: py`
          def shortest_path(grid):
              rows, cols = len(grid), len(grid[0])
              if grid[0][0] == '#' or grid[-1][-1] == '#':
                  return -1
              frontier, dist = [(0, 0)], {(0, 0): 0}
              while frontier:
                  nxt = []
                  for y, x in frontier:
                      for ny, nx in ${diagonal ? '[(y + a, x + b) for a in (-1, 0, 1) for b in (-1, 0, 1) if a or b]' : '((y + 1, x), (y - 1, x), (y, x + 1), (y, x - 1))'}:
                          if 0 <= ny < rows and 0 <= nx < cols and grid[ny][nx] == '.' and (ny, nx) not in dist:
                              dist[(ny, nx)] = dist[(y, x)] + 1
                              nxt.append((ny, nx))
                  frontier = nxt
              return dist.get((rows - 1, cols - 1), ${cells ? '-2) + 1' : '-1)'}
        `,
        inputs: cases(() => [grid(rng, rng.int(1, 6), rng.int(1, 6), wall)]),
      };
    },
  },
  {
    id: 'primes-in-range',
    difficulty: 'medium',
    make: (rng) => {
      const digit = rng.pick([1, 3, 7, 9]);
      return {
        entryPoint: 'primes_ending_in',
        description: `Write a function \`primes_ending_in(lo, hi)\` that returns the ascending list of primes p with lo <= p <= hi whose last decimal digit is ${digit}.`,
        reference: py`
          def primes_ending_in(lo, hi):
              def is_prime(n):
                  if n < 2:
                      return False
                  d = 2
                  while d * d <= n:
                      if n % d == 0:
                          return False
                      d += 1
                  return True
              return [p for p in range(max(lo, 2), hi + 1) if p % 10 == ${digit} and is_prime(p)]
        `,
        inputs: cases(() => {
          const lo = rng.int(-10, 500);
          return [lo, lo + rng.int(0, 120)];
        }),
      };
    },
  },
  {
    id: 'prime-factors',
    difficulty: 'medium',
    make: (rng) => {
      const distinct = rng.next() < 0.5;
      const least = rng.pick([2, 3, 5]);
      return {
        entryPoint: 'prime_factors',
        description: `Write a function \`prime_factors(n)\` that returns the ascending list of the prime factors p >= ${least} of the integer n >= 1${distinct ? ', each prime once' : ', with multiplicity (12 → [2, 2, 3] when counting from 2)'}; n = 1 gives [].`,
        reference: py`
          def prime_factors(n):
              out, d = [], 2
              while d * d <= n:
                  while n % d == 0:
                      out.append(d)
                      n //= d
                  d += 1
              if n > 1:
                  out.append(n)
              out = [p for p in out if p >= ${least}]
              return ${distinct ? 'sorted(set(out))' : 'out'}
        `,
        inputs: cases((i) => [i === 0 ? 1 : rng.int(2, 100_000)]),
      };
    },
  },
  {
    id: 'next-permutation',
    difficulty: 'hard',
    make: (rng) => {
      const previous = rng.next() < 0.5;
      const steps = rng.int(1, 3);
      return {
        entryPoint: 'next_permutation',
        description: `Write a function \`next_permutation(nums)\` that returns the permutation of the list nums that comes ${steps === 1 ? '' : `${steps} steps `}${previous ? 'before' : 'after'} it in lexicographic order, as a new list; stepping ${previous ? 'before the smallest wraps around to the largest' : 'past the largest wraps around to the smallest'} arrangement.`,
        reference: py`
          def next_permutation(nums):
              for _ in range(${steps}):
                  nums = step(nums)
              return list(nums)

          def step(nums):
              a = ${previous ? '[-x for x in nums]' : 'list(nums)'}
              i = len(a) - 2
              while i >= 0 and a[i] >= a[i + 1]:
                  i -= 1
              if i < 0:
                  a.sort()
              else:
                  j = len(a) - 1
                  while a[j] <= a[i]:
                      j -= 1
                  a[i], a[j] = a[j], a[i]
                  a[i + 1:] = reversed(a[i + 1:])
              return ${previous ? '[-x for x in a]' : 'a'}
        `,
        inputs: cases(() => [ints(rng, rng.int(0, 6), 0, 5)]),
      };
    },
  },
  {
    id: 'subset-sum',
    difficulty: 'hard',
    make: (rng) => {
      const target = rng.int(10, 40);
      return {
        entryPoint: 'has_subset_sum',
        description: `Write a function \`has_subset_sum(nums)\` that returns True if some subset of the positive integers in nums (each used at most once) sums to exactly ${target}, otherwise False.`,
        reference: py`
          def has_subset_sum(nums):
              reachable = {0}
              for x in nums:
                  reachable |= {r + x for r in reachable}
              return ${target} in reachable
        `,
        inputs: cases((i) =>
          drawWhere(
            () => {
              const nums = ints(rng, rng.int(1, 6), 1, 15);
              if (rng.next() < 0.5) nums.push(...splitInto(rng, target));
              return [rng.shuffle(nums)] as [number[]];
            },
            ([nums]) => subsetSums(nums).has(target),
            i % 2 === 0,
          ),
        ),
      };
    },
  },
  {
    id: 'word-break',
    difficulty: 'hard',
    make: (rng) => {
      const vocabulary = rng.shuffle(['ab', 'abc', 'cd', 'd', 'ca', 'bca', 'dab', 'b']).slice(0, 5);
      return {
        entryPoint: 'can_segment',
        description: `Write a function \`can_segment(s)\` that returns True if the string s can be split into a sequence of one or more words from ${JSON.stringify(vocabulary)} (words may repeat), otherwise False. The empty string gives True.`,
        reference: py`
          def can_segment(s):
              words = ${JSON.stringify(vocabulary)}
              ok = [True] + [False] * len(s)
              for i in range(1, len(s) + 1):
                  ok[i] = any(ok[i - len(w)] and s[i - len(w):i] == w for w in words if len(w) <= i)
              return ok[len(s)]
        `,
        inputs: cases((i) => [
          i % 2 === 0
            ? Array.from({ length: rng.int(1, 4) }, () => rng.pick(vocabulary)).join('')
            : word(rng, 'abcd', 1, 8),
        ]),
      };
    },
  },
  {
    id: 'nesting-depth',
    difficulty: 'medium',
    make: (rng) => {
      const [open, close] = rng.pick([
        ['(', ')'],
        ['[', ']'],
        ['{', '}'],
        ['<', '>'],
      ]);
      return {
        entryPoint: 'max_depth',
        description: `Write a function \`max_depth(s)\` that returns the deepest nesting of ${open}${close} brackets in s, or -1 if they are not balanced (a closing bracket without an opening one, or one left open). Other characters are ignored.`,
        reference: py`
          def max_depth(s):
              depth = best = 0
              for c in s:
                  if c == ${JSON.stringify(open)}:
                      depth += 1
                      best = max(best, depth)
                  elif c == ${JSON.stringify(close)}:
                      depth -= 1
                      if depth < 0:
                          return -1
              return best if depth == 0 else -1
        `,
        inputs: cases((i) => [
          i % 2 === 0
            ? nested(rng, `${open}${close}`, 4)
            : word(rng, `${open}${open}${close}${close}x`, 0, 12),
        ]),
      };
    },
  },
  {
    id: 'evaluate-rpn',
    difficulty: 'hard',
    make: (rng) => {
      const ops = rng.pick(['+-*', '+-', '+*', '-*']);
      return {
        entryPoint: 'eval_rpn',
        description: `Write a function \`eval_rpn(tokens)\` that evaluates a list of tokens in reverse Polish notation: integer literals (as strings, possibly negative) and the operators ${[...ops].map((o) => `"${o}"`).join(', ')}, each applying to the two values below it on the stack (the deeper one on the left). Return the single value left.`,
        reference: py`
          def eval_rpn(tokens):
              stack = []
              for t in tokens:
                  if t in ('+', '-', '*'):
                      b, a = stack.pop(), stack.pop()
                      stack.append(a + b if t == '+' else a - b if t == '-' else a * b)
                  else:
                      stack.append(int(t))
              return stack[0]
        `,
        inputs: cases(() => [rpn(rng, ops, rng.int(1, 5))]),
      };
    },
  },
  {
    id: 'merge-intervals',
    difficulty: 'hard',
    make: (rng) => {
      const touching = rng.next() < 0.5;
      const minLength = rng.int(0, 2);
      return {
        entryPoint: 'merge_intervals',
        description: `Write a function \`merge_intervals(intervals)\` that takes a list of [start, end] pairs (start <= end) and returns the sorted list of merged [start, end] pairs, where intervals that overlap${touching ? ' or touch (one ends where the next starts)' : ' (share more than one point, so [1, 2] and [2, 3] stay apart)'} are merged${minLength ? `; merged intervals with end - start < ${minLength} are left out` : ''}.`,
        reference: py`
          def merge_intervals(intervals):
              out = []
              for start, end in sorted(intervals):
                  if out and start ${touching ? '<=' : '<'} out[-1][1]:
                      out[-1][1] = max(out[-1][1], end)
                  else:
                      out.append([start, end])
              return [pair for pair in out if pair[1] - pair[0] >= ${minLength}]
        `,
        inputs: cases(() => [
          Array.from({ length: rng.int(0, 6) }, () => {
            const a = rng.int(0, 20);
            return [a, a + rng.int(0, 5)];
          }),
        ]),
      };
    },
  },
  {
    id: 'coin-combinations',
    difficulty: 'hard',
    make: (rng) => {
      const coins = [...new Set([1, rng.int(2, 5), rng.int(5, 12), rng.int(10, 30)])].sort((a, b) => a - b);
      return {
        entryPoint: 'coin_combinations',
        description: `Write a function \`coin_combinations(amount)\` that returns the number of different multisets of coins with values ${JSON.stringify(coins)} that sum to the non-negative integer amount (order does not matter).`,
        reference: py`
          def coin_combinations(amount):
              ways = [1] + [0] * amount
              for c in ${JSON.stringify(coins)}:
                  for a in range(c, amount + 1):
                      ways[a] += ways[a - c]
              return ways[amount]
        `,
        inputs: cases((i) => [i === 0 ? 0 : rng.int(1, 150)]),
      };
    },
  },
  {
    id: 'gray-code',
    difficulty: 'medium',
    make: (rng) => {
      const asStrings = rng.next() < 0.5;
      const reverse = rng.next() < 0.5;
      const limit = rng.pick([0, 6]);
      return {
        entryPoint: 'gray_code',
        description: `Write a function \`gray_code(bits)\` that returns the reflected binary Gray code sequence of the given number of bits (starting at 0, each next code differing in one bit)${reverse ? ' in reverse order' : ''}${limit ? `, only its first ${limit} codes` : ''}, as a list of ${asStrings ? 'binary strings padded to that many bits ("01")' : 'integers'}. gray_code(0) is ${asStrings ? '[""]' : '[0]'}.`,
        reference: py`
          def gray_code(bits):
              codes = [i ^ (i >> 1) for i in range(2 ** bits)]${reverse ? '[::-1]' : ''}${limit ? `[:${limit}]` : ''}
              return ${asStrings ? "[format(c, 'b').zfill(bits) if bits else '' for c in codes]" : 'codes'}
        `,
        inputs: cases((i) => [i]),
      };
    },
  },
  {
    id: 'josephus',
    difficulty: 'medium',
    make: (rng) => {
      const k = rng.int(2, 5);
      return {
        entryPoint: 'survivor',
        description: `Write a function \`survivor(n)\` for n >= 1 people numbered 1..n standing in a circle: starting from person 1, count around the circle and remove every ${k}-th person until one is left. Return that person's number.`,
        reference: py`
          def survivor(n):
              people = list(range(1, n + 1))
              i = 0
              while len(people) > 1:
                  i = (i + ${k} - 1) % len(people)
                  people.pop(i)
              return people[0]
        `,
        inputs: cases((i) => [i === 0 ? 1 : rng.int(2, 300)]),
      };
    },
  },
  {
    id: 'happy-number',
    difficulty: 'medium',
    make: (rng) => {
      const power = rng.pick([2, 2, 3]);
      const within = rng.pick([0, 4, 6]);
      return {
        entryPoint: 'is_happy',
        description: `Write a function \`is_happy(n)\` that returns True if repeatedly replacing the positive integer n by the sum of its digits each raised to the power ${power} reaches 1${within ? ` within at most ${within} replacements` : ' eventually'}, and False otherwise (for example when it loops without reaching 1).`,
        reference: py`
          def is_happy(n):
              seen, steps = set(), 0
              while n != 1 and n not in seen${within ? ` and steps < ${within}` : ''}:
                  seen.add(n)
                  n = sum(int(d) ** ${power} for d in str(n))
                  steps += 1
              return n == 1
        `,
        inputs: cases((i) =>
          drawWhere(
            () => [rng.int(1, 5000)] as [number],
            ([n]) => isHappy(n, power, within),
            i % 2 === 0,
          ),
        ),
      };
    },
  },
  {
    id: 'topological-order',
    difficulty: 'hard',
    make: (rng) => {
      const largestFirst = rng.next() < 0.5;
      const sep = rng.pick(['', '-', ',']);
      return {
        entryPoint: 'topo_order',
        description: `Write a function \`topo_order(n, edges)\` for tasks 0..n-1 and a list of [a, b] pairs meaning a must come before b: return an order of all tasks that respects every pair, choosing at each step the ${largestFirst ? 'largest' : 'smallest'} task whose predecessors are all done, ${sep ? `as a string of the task numbers joined by ${JSON.stringify(sep)}` : 'as a list'}; return None if no order exists (a cycle).`,
        reference: py`
          def topo_order(n, edges):
              indegree = [0] * n
              after = [[] for _ in range(n)]
              for a, b in edges:
                  after[a].append(b)
                  indegree[b] += 1
              ready = [t for t in range(n) if indegree[t] == 0]
              order = []
              while ready:
                  t = ${largestFirst ? 'max' : 'min'}(ready)
                  ready.remove(t)
                  order.append(t)
                  for b in after[t]:
                      indegree[b] -= 1
                      if indegree[b] == 0:
                          ready.append(b)
              if len(order) < n:
                  return None
              return ${sep ? `${JSON.stringify(sep)}.join(map(str, order))` : 'order'}
        `,
        inputs: cases((i) => {
          const n = rng.int(1, 7);
          const edges = Array.from({ length: rng.int(0, n + 2) }, () => {
            const a = rng.int(0, n - 1);
            const b = rng.int(0, n - 1);
            // most graphs are acyclic (edges from smaller to larger); some get a back edge
            return i % 3 === 2 ? [a, b] : [Math.min(a, b), Math.max(a, b)];
          }).filter(([a, b]) => a !== b);
          return [n, edges];
        }),
      };
    },
  },
];

/** Positive parts summing to `total`. */
function splitInto(rng: Rng, total: number): number[] {
  const parts: number[] = [];
  let left = total;
  while (left > 0) {
    const part = Math.min(left, rng.int(1, 15));
    parts.push(part);
    left -= part;
  }
  return parts;
}

/** A random expression of `leaves` integers in reverse Polish notation. */
function rpn(rng: Rng, ops: string, leaves: number): string[] {
  if (leaves === 1) return [String(rng.int(-9, 20))];
  const left = rng.int(1, leaves - 1);
  return [...rpn(rng, ops, left), ...rpn(rng, ops, leaves - left), rng.pick([...ops])];
}

function subsetSums(nums: number[]): Set<number> {
  let reachable = new Set([0]);
  for (const x of nums) reachable = new Set([...reachable, ...[...reachable].map((r) => r + x)]);
  return reachable;
}

/** The `happy-number` family's rule. */
function isHappy(n: number, power: number, within: number): boolean {
  const seen = new Set<number>();
  let steps = 0;
  while (n !== 1 && !seen.has(n) && (within === 0 || steps < within)) {
    seen.add(n);
    n = [...String(n)].reduce((sum, d) => sum + Number(d) ** power, 0);
    steps++;
  }
  return n === 1;
}
