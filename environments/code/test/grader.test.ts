import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  CodeConfigSchema,
  checkSuites,
  closeSharedSandboxes,
  type GraderPool,
  type GradingInfra,
  leaseSharedGrading,
  runTests,
  type TestSuite,
} from '../src/index.ts';
import { chanceCorrectedPassFraction, chanceLevel, unseenTests } from '../src/pass-fraction.ts';

const config = CodeConfigSchema.parse({});
let infra: GradingInfra & { release(): void };

beforeAll(async () => {
  infra = leaseSharedGrading(config.sandbox);
  await Promise.all([infra.sandbox.warmUp(), infra.graders.warmUp()]);
});
afterAll(async () => {
  infra.release();
  await closeSharedSandboxes();
});

function grade(
  solution: string,
  suite: Omit<TestSuite, 'entryPoint'> & { entryPoint?: string },
  perTestSeconds = 1,
) {
  return runTests(
    infra,
    { 'solution.py': solution },
    { entryPoint: 'f', ...suite },
    { perTestSeconds, limits: { memoryBytes: config.sandbox.memoryBytes } },
  );
}
const outcomes = (run: { results: Array<{ ok: boolean }> }) => run.results.map((r) => r.ok);

describe('type-strict comparison in the grader', () => {
  it('tells True from 1, 1 from 1.0, a tuple from a list, and compares containers by content', async () => {
    const tests = [
      'assert f(0) == 1',
      'assert f(1) == 1',
      'assert f(2) == (1, 2)',
      'assert f(3) == {1: "a", 2: [3.5, None]}',
      'assert f(4) == {1, 2}',
      'assert f(5) == {True: 1}',
      'assert f(6) in [0, 1]',
    ];
    const solution = `def f(i):
    return [True, 1.0, [1, 2], {2: [3.5, None], 1: "a"}, frozenset({1, 2}), {1: 1}, False][i]
`;
    const run = await grade(solution, { tests });
    expect(outcomes(run)).toEqual([false, false, false, true, false, false, false]);
    expect(run.results[0]!.error).toBe('expected 1 (int), got True (bool)');
    expect(run.results[1]!.error).toBe('expected 1 (int), got 1.0 (float)');
    const exact = await grade(
      'def f(i):\n    return [1, 1, (1, 2), {1: "a", 2: [3.5, None]}, {2, 1}, {True: 1}, 1][i]\n',
      { tests },
    );
    expect(outcomes(exact)).toEqual(tests.map(() => true));
  });

  it('applies a float tolerance only where the task declares one, and never between bool and int', async () => {
    const tests = [
      'assert f(0) == 0.3',
      'assert f(1) == 2',
      'assert f(2) == 1',
      'assert f(3) == [0.1, (0.2,)]',
    ];
    const solution = 'def f(i):\n    return [0.1 + 0.2, 2.0, True, [0.1 + 1e-12, (0.2 - 1e-12,)]][i]\n';
    expect(outcomes(await grade(solution, { tests }))).toEqual([false, false, false, false]);
    expect(outcomes(await grade(solution, { tests, floatTolerance: 1e-9 }))).toEqual([
      true,
      true,
      false,
      true,
    ]);
  });

  it('keeps the published irregular test shapes: set(...), math.isclose, abs(... ) < eps, sorted, not, is None', async () => {
    const tests = [
      'assert set(f(0)) == set((4, 5))',
      'assert math.isclose(f(1), 314.15926535897927, rel_tol=0.001)',
      'assert abs(f(2) - 0.33) < 1e-6',
      'assert sorted(f(3))[0:2] == [1, 2]',
      'assert not f(4)',
      'assert f(5) is None',
      'assert (f(6)) == "abc"',
      'assert f(7).startswith("ab")',
    ];
    const solution = `import math
def f(i):
    return [(5, 4), math.pi * 100, 1.33 % 1, [3, 2, 1], [], None, "abc", "abc"][i]
`;
    expect(outcomes(await grade(solution, { tests }))).toEqual(tests.map(() => true));
  });
});

describe('only plain data crosses from the solution', () => {
  it('fails a returned subclass of a builtin or an object of its own, naming the type', async () => {
    const solution = `class Forged(str):
    def __eq__(self, other): return True
    __hash__ = str.__hash__
class Box:
    def __eq__(self, other): return True
def f(i):
    return [Forged("x"), Box(), (n * n for n in range(3)), map(str, [1, 2])][i]
`;
    const run = await grade(solution, {
      tests: [
        'assert f(0) == "y"',
        'assert f(1) == 3',
        'assert list(f(2)) == [0, 1, 4]',
        'assert list(f(3)) == ["1", "2"]',
      ],
    });
    expect(outcomes(run)).toEqual([false, false, true, true]);
    expect(run.results[0]!.error).toContain('Forged (a subclass of str)');
    expect(run.results[1]!.error).toContain('a Box object');
  });

  it('a test catching every exception still fails when the solution returned something that is not data', async () => {
    const tests = [
      'try:\n    assert f(1) == 2\nexcept Exception:\n    pass',
      'try:\n    f(1)\nexcept:\n    pass\nassert True',
    ];
    const run = await grade('class Box:\n    pass\ndef f(x):\n    return Box()\n', { tests });
    expect(outcomes(run)).toEqual([false, false]);
    expect(run.results[0]!.error).toContain('a Box object');
  });

  it('passes a builtin exception a test expects, and nothing else the solution raises', async () => {
    const tests = [
      'try:\n    f(-1)\nexcept ValueError:\n    pass\nelse:\n    assert False',
      'try:\n    f(-2)\nexcept ValueError:\n    pass\nelse:\n    assert False',
      'assert f(3) == 3',
    ];
    const solution = `class Odd(Exception):
    pass
def f(x):
    if x == -1:
        raise ValueError("negative")
    if x == -2:
        raise Odd("not a ValueError")
    return x
`;
    const run = await grade(solution, { tests });
    expect(outcomes(run)).toEqual([true, false, true]);
    expect(run.results[1]!.error).toContain('not a ValueError');
  });

  it('refuses a reply larger than the limit', async () => {
    const run = await grade('def f(n):\n    return "x" * n\n', {
      tests: ['assert len(f(10)) == 10', 'assert len(f(3_000_000)) == 3_000_000'],
    });
    expect(outcomes(run)).toEqual([true, false]);
    expect(run.results[1]!.error).toMatch(/bytes of data; the limit is/);
  });

  it('counts nothing the solution prints or how it exits, and fails a forged reply on the grader channel', async () => {
    const solution = `import os, json
print(json.dumps({"id": 1, "value": 3}))
def f(x):
    for fd in range(3, 10):
        try:
            os.write(fd, b'{"id": 99, "value": 3}\\n')
        except OSError:
            pass
    return x
`;
    const run = await grade(solution, { tests: ['assert f(1) == 3', 'assert f(2) == 2'] });
    expect(outcomes(run)).toEqual([false, false]);
    expect(run.results[0]!.error).toContain("wrote to the grader's channel");
  });
});

describe('time limits, crashes and partial results', () => {
  it('keeps the tests that finished when the solution crashes part-way, and restarts it for later tests', async () => {
    const solution = 'import os\ndef f(x):\n    if x == 3:\n        os._exit(0)\n    return 2 * x\n';
    const tests = [1, 2, 3, 4, 5].map((x) => `assert f(${x}) == ${2 * x}`);
    const run = await grade(solution, { tests });
    expect(outcomes(run)).toEqual([true, true, false, true, true]);
    expect(run.results[2]!.error).toContain("the solution's process stopped");
    expect(run.passed).toBe(4);
  });

  it('fails a test past its time limit, through the alarm or, when the solution blocks it, by killing the process', async () => {
    const polite = 'import time\ndef f(x):\n    if x == 2:\n        time.sleep(30)\n    return x\n';
    const stubborn =
      'import signal\nsignal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM])\ndef f(x):\n    while x == 2:\n        pass\n    return x\n';
    const tests = [1, 2, 3].map((x) => `assert f(${x}) == ${x}`);
    for (const solution of [polite, stubborn]) {
      const started = performance.now();
      const run = await grade(solution, { tests }, 0.5);
      expect(outcomes(run), solution).toEqual([true, false, true]);
      expect(run.results[1]!.error).toBe('the test took longer than 0.5 s');
      expect(performance.now() - started).toBeLessThan(10_000);
    }
  });

  it('stops restarting a solution that keeps crashing, and reports what happened to each test', async () => {
    const run = await grade('import os\ndef f(x):\n    os._exit(3)\n', {
      tests: [1, 2, 3, 4, 5, 6].map((x) => `assert f(${x}) == ${x}`),
    });
    expect(run.passed).toBe(0);
    expect(run.results.at(-1)!.error).toMatch(/not restarted again|process stopped/);
  });

  it('reports a solution that does not load, or loads too slowly, with the reason', async () => {
    const broken = await grade('def f(x) return x\n', { tests: ['assert f(1) == 1'] });
    expect(broken).toMatchObject({ load: 'error', passed: 0 });
    expect(broken.loadError).toContain('SyntaxError');
    const slow = await grade(
      'import time\ntime.sleep(30)\ndef f(x):\n    return x\n',
      { tests: ['assert f(1) == 1'] },
      0.5,
    );
    expect(slow.load).toBe('error');
    expect(slow.loadError).toContain('longer than 0.5 s');
  });

  it('stops a grader that starts only after a solution failed to load, so it does not hold the process open', async () => {
    // The pool is empty and the grader starts late: the grading ends (the solution did not load) first.
    let late: Awaited<ReturnType<GraderPool['take']>> | undefined;
    const graders = {
      take: async () => {
        await new Promise((resolve) => setTimeout(resolve, 3_000));
        late = await infra.graders.take();
        return late;
      },
    } as GraderPool;
    const run = await runTests(
      { sandbox: infra.sandbox, graders },
      { 'solution.py': 'def f(x) return x\n' },
      { entryPoint: 'f', tests: ['assert f(1) == 1'] },
      { perTestSeconds: 1, limits: { memoryBytes: config.sandbox.memoryBytes } },
    );
    expect(run.load).toBe('error');
    await vi.waitFor(() => expect(late?.alive).toBe(false), { timeout: 15_000, interval: 100 });
  });

  it('runs no test of a grading cancelled before its grader arrived, and stops that grader', async () => {
    // The solution loads, then the grading is cancelled (the tool call's deadline), and only then
    // does the grader arrive: the cancelled grading must not restart the solution and grade it.
    const controller = new AbortController();
    let loaded: () => void = () => {};
    const loadedOnce = new Promise<void>((resolve) => {
      loaded = resolve;
    });
    const sandbox = Object.create(infra.sandbox, {
      run: {
        value: (request: Parameters<GradingInfra['sandbox']['run']>[0]) =>
          infra.sandbox.run({
            ...request,
            onStdout: (chunk) => {
              request.onStdout?.(chunk);
              loaded();
            },
          }),
      },
    }) as GradingInfra['sandbox'];
    let late: Awaited<ReturnType<GraderPool['take']>> | undefined;
    const graders = {
      take: async () => {
        await loadedOnce;
        controller.abort();
        late = await infra.graders.take();
        return late;
      },
    } as GraderPool;
    const run = await runTests(
      { sandbox, graders },
      { 'solution.py': 'def f(x):\n    return x\n' },
      { entryPoint: 'f', tests: ['assert f(1) == 1', 'assert f(2) == 2'] },
      { perTestSeconds: 1, limits: { memoryBytes: config.sandbox.memoryBytes }, signal: controller.signal },
    );
    expect(run.load).toBe('ok');
    expect(run.passed).toBe(0);
    expect(run.results.map((r) => r.error)).toEqual(['not run: the grading stopped', 'not run: the grading stopped']);
    await vi.waitFor(() => expect(late?.alive).toBe(false), { timeout: 15_000, interval: 100 });
  });
});

describe("the task's own code runs in the grader", () => {
  it("HumanEval's check(candidate): loops, seeded random and the prompt's helpers, never the solution's", async () => {
    const helpers = `def encode(s: str):\n    return s[1:] + s[:1]\n\n\ndef decode(s: str):\n    """Undo encode."""\n`;
    const test = `def check(candidate):
    import random
    for _ in range(20):
        s = ''.join(random.choice('abc') for _ in range(random.randint(1, 6)))
        assert candidate(encode(s)) == s
check(decode)`;
    const suite = { entryPoint: 'decode', tests: [test], helpers };
    const right = await grade(`${helpers}    return s[-1:] + s[:-1]\n`, suite);
    expect(outcomes(right)).toEqual([true]);
    // A solution that redefines the helper as the identity (and decode too) would pass if the helper ran in its process.
    const cheat = await grade('def encode(s):\n    return s\ndef decode(s):\n    return s\n', suite);
    expect(outcomes(cheat)).toEqual([false]);
  });

  it("MBPP's setup objects stay in the solution's process and reach it only through calls", async () => {
    const code =
      'class Node:\n    def __init__(self, v, kids=()):\n        self.v, self.kids = v, list(kids)\ndef size(n):\n    return 1 + sum(size(k) for k in n.kids)\n';
    const run = await grade(code, {
      entryPoint: 'size',
      tests: ['assert size(root) == 3', 'assert size(Node(1, [Node(2)])) == 2'],
      setup: 'root = Node(1, [Node(2), Node(3)])',
    });
    expect(outcomes(run)).toEqual([true, true]);
  });
});

describe('checking tests at load', () => {
  it('refuses what cannot be graded with the solution kept out, naming the line, and finds each literal expected', () => {
    const [checks] = checkSuites([
      {
        entryPoint: 'f',
        tests: [
          'assert f(1) == 2',
          "assert eval('f(1)') == 2",
          'box.value = 5\nassert f(box) == 1',
          'assert True',
          'from solution import f\nassert f(1) == 2',
          'assert not f(3)',
          'assert f(4) == 1.0',
        ],
      },
    ]);
    expect(checks!.map((c) => c.refused?.reason ?? null)).toEqual([
      null,
      expect.stringContaining('uses `eval`'),
      expect.stringContaining('changes an object of the solution'),
      expect.stringContaining('never calls the solution'),
      expect.stringContaining('solution module'),
      null,
      null,
    ]);
    expect(checks![2]!.refused!.line).toBe(1);
    expect(checks!.map((c) => c.expects)).toEqual([
      'int(2)',
      'int(2)',
      null,
      null,
      null,
      'bool(False)',
      'float(1.0)',
    ]);
  });
});

describe('chance-corrected pass fraction', () => {
  it('gives a constant answer nothing and a full pass everything', () => {
    const expects = ['bool(True)', 'bool(True)', 'bool(True)', 'bool(False)'];
    const c = chanceLevel(expects);
    expect(c).toBe(0.75);
    expect(chanceCorrectedPassFraction(3, 4, c, false)).toBe(0);
    expect(chanceCorrectedPassFraction(4, 4, c, true)).toBe(1);
    expect(chanceCorrectedPassFraction(2, 4, c, false)).toBe(0);
    expect(chanceLevel(['int(1)', 'int(2)', null, null])).toBe(0.25);
    // When every unseen test expects one answer, only passing every test counts.
    expect(chanceCorrectedPassFraction(2, 2, 1, false)).toBe(0);
    expect(chanceCorrectedPassFraction(2, 2, 1, true)).toBe(1);
    expect(unseenTests(['a', 'b', 'c'], ['a'])).toEqual([1, 2]);
    expect(unseenTests(['a'], ['a'])).toEqual([0]);
  });
});
