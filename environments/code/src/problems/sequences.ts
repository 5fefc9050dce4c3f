import type { Rng } from '@toolgym/protocol';
import { cases, drawWhere, ints, py } from './draw.ts';
import type { ProgrammingTemplate } from './template.ts';

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const matrix = (rng: Rng, rows: number, cols: number, lo: number, hi: number) =>
  Array.from({ length: rows }, () => ints(rng, cols, lo, hi));

/** Problem families on lists, tuples, dicts and matrices. */
export const SEQUENCE_TEMPLATES: ProgrammingTemplate[] = [
  {
    id: 'second-largest',
    difficulty: 'easy',
    make: (rng) => {
      const k = rng.int(2, 4);
      const largest = rng.next() < 0.5;
      return {
        entryPoint: 'kth_distinct',
        description: `Write a function \`kth_distinct(nums)\` that returns the ${['second', 'third', 'fourth'][k - 2]} ${largest ? 'largest' : 'smallest'} distinct value of the list nums, or None if it has fewer than ${k} distinct values.`,
        reference: py`
          def kth_distinct(nums):
              values = sorted(set(nums), reverse=${largest ? 'True' : 'False'})
              return values[${k - 1}] if len(values) >= ${k} else None
        `,
        inputs: cases(() => [ints(rng, rng.int(0, 8), -9, 9)]),
      };
    },
  },
  {
    id: 'dedupe-keep-order',
    difficulty: 'easy',
    make: (rng) => {
      const keepLast = rng.next() < 0.5;
      const copies = rng.int(1, 3);
      return {
        entryPoint: 'dedupe',
        description: `Write a function \`dedupe(items)\` that returns the list items keeping at most ${copies} occurrence(s) of each value: the ${keepLast ? 'last' : 'first'} ones, in their original order.`,
        reference: py`
          def dedupe(items):
              counts, keep = {}, []
              for x in ${keepLast ? 'reversed(items)' : 'items'}:
                  counts[x] = counts.get(x, 0) + 1
                  if counts[x] <= ${copies}:
                      keep.append(x)
              return keep${keepLast ? '[::-1]' : ''}
        `,
        inputs: cases(() => [ints(rng, rng.int(0, 10), 0, 6)]),
      };
    },
  },
  {
    id: 'running-extreme',
    difficulty: 'easy',
    make: (rng) => {
      const fn = rng.pick(['max', 'min']);
      const window = rng.pick([0, 2, 3]);
      return {
        entryPoint: 'running_extreme',
        description: `Write a function \`running_extreme(nums)\` that returns the list whose i-th element is the ${fn === 'max' ? 'largest' : 'smallest'} of ${window ? `the last ${window} elements up to index i (fewer at the start)` : 'nums[0..i]'}.`,
        reference: py`
          def running_extreme(nums):
              return [${fn}(nums[${window ? `max(0, i - ${window - 1})` : '0'}:i + 1]) for i in range(len(nums))]
        `,
        inputs: cases(() => [ints(rng, rng.int(0, 9), -20, 20)]),
      };
    },
  },
  {
    id: 'moving-average',
    difficulty: 'medium',
    make: (rng) => {
      const w = rng.int(2, 5);
      const step = rng.int(1, 2);
      return {
        entryPoint: 'moving_average',
        description: `Write a function \`moving_average(nums)\` that returns the list of means (floats) of the windows of ${w} consecutive elements of nums starting at indices 0, ${step}, ${2 * step}, … while a whole window fits; fewer than ${w} elements give [].`,
        reference: py`
          def moving_average(nums):
              return [sum(nums[i:i + ${w}]) / ${w} for i in range(0, len(nums) - ${w} + 1, ${step})]
        `,
        inputs: cases(() => [ints(rng, rng.int(0, 9), -10, 30)]),
        floatTolerance: 1e-9,
      };
    },
  },
  {
    id: 'max-subarray-sum',
    difficulty: 'hard',
    make: (rng) => {
      const minLength = rng.int(1, 3);
      const maxLength = rng.pick([0, 3, 4, 5]);
      return {
        entryPoint: 'max_subarray_sum',
        description: `Write a function \`max_subarray_sum(nums)\` that returns the largest sum of a contiguous slice of nums with at least ${minLength}${maxLength ? ` and at most ${maxLength}` : ''} element(s), or None if nums is shorter than ${minLength}.`,
        reference: py`
          def max_subarray_sum(nums):
              best = None
              for i in range(len(nums)):
                  total = 0
                  for j in range(i, len(nums)):
                      total += nums[j]
                      if ${minLength} <= j - i + 1${maxLength ? ` <= ${maxLength}` : ''} and (best is None or total > best):
                          best = total
              return best
        `,
        inputs: cases(() => [ints(rng, rng.int(0, 10), -9, 9)]),
      };
    },
  },
  {
    id: 'merge-sorted',
    difficulty: 'medium',
    make: (rng) => {
      const unique = rng.next() < 0.5;
      const floor = rng.int(0, 5);
      return {
        entryPoint: 'merge_sorted',
        description: `Write a function \`merge_sorted(a, b)\` that merges the ascending lists a and b into one ascending list of their values >= ${floor}${unique ? ', without repeated values' : ' (keeping repeats)'}.`,
        reference: py`
          def merge_sorted(a, b):
              out = sorted(x for x in a + b if x >= ${floor})
              ${unique ? 'return sorted(set(out))' : 'return out'}
        `,
        inputs: cases(() => [
          sorted(ints(rng, rng.int(0, 6), 0, 15)),
          sorted(ints(rng, rng.int(0, 6), 0, 15)),
        ]),
      };
    },
  },
  {
    id: 'interleave',
    difficulty: 'easy',
    make: (rng) => {
      const bFirst = rng.next() < 0.5;
      const run = rng.int(1, 3);
      return {
        entryPoint: 'interleave',
        description: `Write a function \`interleave(a, b)\` that returns a list taking ${run} element(s) at a time alternately from ${bFirst ? 'b and a (b first)' : 'a and b (a first)'}; when one list runs out, the rest of the other follows.`,
        reference: py`
          def interleave(a, b):
              first, second = ${bFirst ? 'b, a' : 'a, b'}
              out = []
              for i in range(0, max(len(first), len(second)), ${run}):
                  out.extend(first[i:i + ${run}])
                  out.extend(second[i:i + ${run}])
              return out
        `,
        inputs: cases(() => [ints(rng, rng.int(0, 5), 0, 9), ints(rng, rng.int(0, 5), 10, 19)]),
      };
    },
  },
  {
    id: 'flatten-nested',
    difficulty: 'medium',
    make: (rng) => {
      const depth = rng.int(1, 3);
      const scale = rng.pick([1, 2, -1]);
      const nest = (d: number): unknown =>
        d > 0 && rng.next() < 0.5 ? Array.from({ length: rng.int(0, 3) }, () => nest(d - 1)) : rng.int(0, 9);
      return {
        entryPoint: 'flatten',
        description: `Write a function \`flatten(items)\` that flattens nested lists by at most ${depth} level(s): flatten([1, [2, [3]]]) with one level gives [1, 2, [3]]. ${scale === 1 ? 'Non-list elements stay as they are.' : `Integers that end up at the top level are multiplied by ${scale}; deeper ones stay as they are.`}`,
        reference: py`
          def flatten(items, depth=${depth}):
              out = []
              for x in items:
                  if isinstance(x, list) and depth > 0:
                      out.extend(flatten(x, depth - 1))
                  else:
                      out.append(x)
              return out if depth < ${depth} else [x * ${scale} if isinstance(x, int) else x for x in out]
        `,
        inputs: cases(() => [Array.from({ length: rng.int(0, 4) }, () => nest(4))]),
      };
    },
  },
  {
    id: 'transpose',
    difficulty: 'medium',
    make: (rng) => {
      const scale = rng.pick([1, -1, 2, 3, -2]);
      return {
        entryPoint: 'transpose',
        description: `Write a function \`transpose(rows)\` that returns the transpose of a rectangular matrix given as a list of rows${scale === 1 ? '' : `, with every entry multiplied by ${scale}`}. A matrix with no rows gives [].`,
        reference: py`
          def transpose(rows):
              if not rows:
                  return []
              return [[rows[r][c] * ${scale} for r in range(len(rows))] for c in range(len(rows[0]))]
        `,
        inputs: cases((i) => [i === 0 ? [] : matrix(rng, rng.int(1, 4), rng.int(1, 4), -9, 9)]),
      };
    },
  },
  {
    id: 'rotate-matrix',
    difficulty: 'medium',
    make: (rng) => {
      const turns = rng.int(1, 3);
      const mirror = rng.next() < 0.5;
      return {
        entryPoint: 'rotate',
        description: `Write a function \`rotate(rows)\` that rotates a rectangular matrix (a list of rows) clockwise by ${turns * 90} degrees${mirror ? ' and then reverses each row' : ''}, and returns the new list of rows.`,
        reference: py`
          def rotate(rows):
              for _ in range(${turns}):
                  rows = [list(r) for r in zip(*rows[::-1])]
              return ${mirror ? '[r[::-1] for r in rows]' : 'rows'}
        `,
        inputs: cases(() => [matrix(rng, rng.int(1, 4), rng.int(1, 4), 0, 9)]),
      };
    },
  },
  {
    id: 'spiral-order',
    difficulty: 'hard',
    make: (rng) => {
      const counter = rng.next() < 0.5;
      const limit = rng.pick([0, 5, 7]);
      return {
        entryPoint: 'spiral',
        description: `Write a function \`spiral(rows)\` that returns ${limit ? `the first ${limit} elements (or all, if fewer)` : 'the elements'} of a rectangular matrix in spiral order, starting at the top-left corner and going ${counter ? 'down first (counter-clockwise)' : 'right first (clockwise)'}.`,
        reference: py`
          def spiral(rows):
              grid = [list(r) for r in rows]
              ${counter ? 'grid = [list(r) for r in zip(*grid)]' : 'pass'}
              out = []
              while grid:
                  out.extend(grid.pop(0))
                  grid = [list(r) for r in zip(*grid)][::-1]
              return out${limit ? `[:${limit}]` : ''}
        `,
        inputs: cases(() => [matrix(rng, rng.int(1, 4), rng.int(1, 4), 0, 20)]),
      };
    },
  },
  {
    id: 'count-inversions',
    difficulty: 'hard',
    make: (rng) => {
      const gap = rng.int(0, 3);
      return {
        entryPoint: 'count_inversions',
        description: `Write a function \`count_inversions(nums)\` that returns the number of index pairs i < j with nums[i] > nums[j] + ${gap}.`,
        reference: py`
          def count_inversions(nums):
              return sum(1 for i in range(len(nums)) for j in range(i + 1, len(nums)) if nums[i] > nums[j] + ${gap})
        `,
        inputs: cases(() => [ints(rng, rng.int(0, 12), 0, 15)]),
      };
    },
  },
  {
    id: 'longest-increasing-subsequence',
    difficulty: 'hard',
    make: (rng) => {
      const strict = rng.next() < 0.5;
      const step = rng.pick([0, 2, 3]);
      return {
        entryPoint: 'lis_length',
        description: `Write a function \`lis_length(nums)\` that returns the length of the longest ${strict ? 'strictly increasing' : 'non-decreasing'} subsequence of nums (not necessarily contiguous)${step ? ` in which each element exceeds the one before it by at most ${step}` : ''}.`,
        reference: py`
          def lis_length(nums):
              best = [1] * len(nums)
              for j in range(len(nums)):
                  for i in range(j):
                      if nums[i] ${strict ? '<' : '<='} nums[j]${step ? ` <= nums[i] + ${step}` : ''}:
                          best[j] = max(best[j], best[i] + 1)
              return max(best, default=0)
        `,
        inputs: cases(() => [ints(rng, rng.int(0, 12), 0, 9)]),
      };
    },
  },
  {
    id: 'two-sum-indices',
    difficulty: 'medium',
    make: (rng) => {
      const t = rng.int(5, 20);
      return {
        entryPoint: 'two_sum',
        description: `Write a function \`two_sum(nums)\` that returns the tuple (i, j) of the first pair of indices i < j (smallest j, then smallest i) with nums[i] + nums[j] == ${t}, or None if there is none.`,
        reference: py`
          def two_sum(nums):
              for j in range(len(nums)):
                  for i in range(j):
                      if nums[i] + nums[j] == ${t}:
                          return (i, j)
              return None
        `,
        inputs: cases((i) =>
          drawWhere(
            () => [ints(rng, rng.int(0, 8), 0, t)] as [number[]],
            ([nums]) => nums.some((x, j) => nums.slice(j + 1).includes(t - x)),
            i % 2 === 0,
          ),
        ),
      };
    },
  },
  {
    id: 'group-by-remainder',
    difficulty: 'medium',
    make: (rng) => {
      const m = rng.int(2, 5);
      const absolute = rng.next() < 0.5;
      return {
        entryPoint: 'group_by_remainder',
        description: `Write a function \`group_by_remainder(nums)\` that returns a dict mapping each remainder r = ${absolute ? `abs(x) % ${m}` : `x % ${m} (Python's %)`} that occurs to the list of the elements x of nums with that remainder, in their original order.`,
        reference: py`
          def group_by_remainder(nums):
              groups = {}
              for x in nums:
                  groups.setdefault(${absolute ? 'abs(x)' : 'x'} % ${m}, []).append(x)
              return groups
        `,
        inputs: cases(() => [ints(rng, rng.int(0, 9), -10, 30)]),
      };
    },
  },
  {
    id: 'sliding-window-max',
    difficulty: 'hard',
    make: (rng) => {
      const w = rng.int(2, 4);
      const fn = rng.pick(['max', 'min']);
      return {
        entryPoint: 'window_extreme',
        description: `Write a function \`window_extreme(nums)\` that returns the list of ${fn === 'max' ? 'maxima' : 'minima'} of every window of ${w} consecutive elements of nums, in order ([] if nums is shorter than ${w}).`,
        reference: py`
          def window_extreme(nums):
              return [${fn}(nums[i:i + ${w}]) for i in range(len(nums) - ${w} + 1)]
        `,
        inputs: cases(() => [ints(rng, rng.int(0, 12), -20, 20)]),
      };
    },
  },
  {
    id: 'three-way-partition',
    difficulty: 'medium',
    make: (rng) => {
      const pivot = rng.int(0, 9);
      return {
        entryPoint: 'partition',
        description: `Write a function \`partition(nums)\` that returns a new list with the elements of nums smaller than ${pivot} first, then those equal to ${pivot}, then the larger ones, each group keeping its original order.`,
        reference: py`
          def partition(nums):
              return [x for x in nums if x < ${pivot}] + [x for x in nums if x == ${pivot}] + [x for x in nums if x > ${pivot}]
        `,
        inputs: cases(() => [ints(rng, rng.int(0, 10), 0, 9)]),
      };
    },
  },
  {
    id: 'bucket-counts',
    difficulty: 'medium',
    make: (rng) => {
      const width = rng.int(2, 10);
      const buckets = rng.int(3, 6);
      return {
        entryPoint: 'bucket_counts',
        description: `Write a function \`bucket_counts(values)\` that returns a list of ${buckets} counts: bucket b counts the values v with b * ${width} <= v < (b + 1) * ${width}; values below 0 go to bucket 0 and values at or above ${buckets * width} go to the last bucket.`,
        reference: py`
          def bucket_counts(values):
              counts = [0] * ${buckets}
              for v in values:
                  counts[min(${buckets - 1}, max(0, v // ${width}))] += 1
              return counts
        `,
        inputs: cases(() => [ints(rng, rng.int(0, 12), -5, buckets * width + 5)]),
      };
    },
  },
  {
    id: 'min-max-pair',
    difficulty: 'easy',
    make: (rng) => {
      const byAbs = rng.next() < 0.5;
      const floor = rng.int(-10, 0);
      return {
        entryPoint: 'min_max',
        description: `Write a function \`min_max(nums)\` that returns the tuple (smallest, largest) of the elements of nums that are >= ${floor}${byAbs ? ', compared by absolute value (on a tie, the element that comes first)' : ''}, or None if there are none.`,
        reference: py`
          def min_max(nums):
              nums = [x for x in nums if x >= ${floor}]
              if not nums:
                  return None
              ${byAbs ? 'return (min(nums, key=abs), max(nums, key=abs))' : 'return (min(nums), max(nums))'}
        `,
        inputs: cases((i) => [i === 0 ? [] : ints(rng, rng.int(1, 7), -15, 15)]),
      };
    },
  },
];
