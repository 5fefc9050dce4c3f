import type { Trajectory } from '@toolgym/protocol';
import { describe, expect, it } from 'vitest';
import { attributeAdvantages, branchPoints, turnEntropy } from './arpo.ts';

/**
 * An exact episode whose turn j samples one token per entry of `turns[j].logprobs` (policy
 * logprobs as given), each turn followed by one observation token; `tools` says whether the turn
 * got tool results.
 */
function episode(
  id: string,
  turns: Array<{ logprobs: number[]; tools: boolean }>,
  branchedFrom?: { trajectoryId: string; turn: number },
): Trajectory {
  const tokens: number[] = [1];
  const lossMask: Array<0 | 1> = [0];
  const policyLogprobs: number[] = [0];
  const built = turns.map((turn, index) => {
    const start = tokens.length;
    for (const lp of turn.logprobs) {
      tokens.push(2);
      lossMask.push(1);
      policyLogprobs.push(lp);
    }
    const end = tokens.length;
    tokens.push(3);
    lossMask.push(0);
    policyLogprobs.push(0);
    return {
      index,
      policyVersion: 0,
      sampled: { start, end },
      observation: { start: end, end: end + 1 },
      text: '',
      finishReason: 'tool_call' as const,
      toolCalls: [],
      toolResults: turn.tools
        ? [{ callId: 'c', name: 'f', content: 'x', isError: false, truncated: false, ms: 0 }]
        : [],
      parseErrors: [],
      generateMs: 0,
      toolMs: 0,
    };
  });
  return {
    schemaVersion: 1,
    id,
    envId: 'e',
    taskId: 't',
    seed: 0,
    messages: [],
    tokens: Int32Array.from(tokens),
    lossMask: Uint8Array.from(lossMask),
    // Behaviour logprobs differ from the policy's own: the entropy must read the policy's.
    logprobs: Float64Array.from(tokens, () => -100),
    policyLogprobs: Float64Array.from(policyLogprobs),
    promptLength: 1,
    turns: built,
    ...(branchedFrom ? { branchedFrom } : {}),
    tokenization: 'exact',
    status: 'terminated',
    reward: { total: 0, components: {}, weights: {}, info: {}, steps: [] },
    timing: { startedAt: 0, ms: 0, generateMs: 0, toolMs: 0 },
  } as unknown as Trajectory;
}

describe('ARPO branch points', () => {
  // A: H = 1, 2, 1 (ΔH 1 and 0). B: H = 0.5, 2.5, 4, but its turn 1 got no tool result, so turn 2 is
  // not right after one (ΔH 3.5 does not count); its turn 1 (ΔH 2) is.
  const a = episode('a', [
    { logprobs: [-1, -1], tools: true },
    { logprobs: [-3, -1], tools: true },
    { logprobs: [-1, -1], tools: true },
  ]);
  const b = episode('b', [
    { logprobs: [-0.5, -0.5], tools: true },
    { logprobs: [-2.5, -2.5], tools: false },
    { logprobs: [-4, -4], tools: true },
  ]);
  const params = { entropyThreshold: 0.5, maxBranches: 2, entropyTokens: 2 };

  it('measure the mean surprisal of the first k tokens under the policy', () => {
    expect(turnEntropy(a, 1, 2)).toBe(2);
    expect(turnEntropy(a, 1, 1)).toBe(3);
    expect(turnEntropy(b, 2, 2)).toBe(4);
  });

  it('are the turns after a tool result whose ΔH exceeds τ, highest first, Z each until the room is used', () => {
    expect(branchPoints([a, b], params, 3, new Set())).toEqual([
      { episode: 1, turn: 1, deltaH: 2, count: 2 },
      { episode: 0, turn: 1, deltaH: 1, count: 1 },
    ]);
    // k = 1: A's turn 1 reads only its −3 token, ΔH = 3 − 1 = 2, and A's turn 2 stays at 0.
    expect(branchPoints([a, b], { ...params, entropyTokens: 1 }, 8, new Set())).toEqual([
      { episode: 0, turn: 1, deltaH: 2, count: 2 },
      { episode: 1, turn: 1, deltaH: 2, count: 2 },
    ]);
    expect(branchPoints([a, b], { ...params, entropyThreshold: 1.5 }, 8, new Set())).toEqual([
      { episode: 1, turn: 1, deltaH: 2, count: 2 },
    ]);
  });

  it('skip points already taken and turns a branch only replayed', () => {
    expect(branchPoints([a, b], params, 8, new Set(['b:1']))).toEqual([
      { episode: 0, turn: 1, deltaH: 1, count: 2 },
    ]);
    // A branch of A at turn 2 owns only turn 2 (ΔH 0 here): nothing to branch from.
    const child = episode(
      'c',
      [
        { logprobs: [-1, -1], tools: true },
        { logprobs: [-3, -1], tools: true },
        { logprobs: [-1, -1], tools: true },
      ],
      { trajectoryId: 'a', turn: 2 },
    );
    expect(branchPoints([child], params, 8, new Set())).toEqual([]);
    expect(branchPoints([a, b], params, 0, new Set())).toEqual([]);
  });
});

describe('ARPO advantage attribution', () => {
  const three = [
    { logprobs: [-1], tools: true },
    { logprobs: [-1], tools: true },
    { logprobs: [-1], tools: true },
  ];
  // P; C1 branched from P at turn 1; C2 from P at turn 2; G from C1 at turn 2.
  const p = episode('p', three);
  const c1 = episode('c1', three, { trajectoryId: 'p', turn: 1 });
  const c2 = episode('c2', three, { trajectoryId: 'p', turn: 2 });
  const g = episode('g', three, { trajectoryId: 'c1', turn: 2 });
  const a = { p: 1, c1: -1, c2: 0.5, g: 0.3 };

  it('gives a shared turn the mean advantage of the episodes that share it, and replayed turns 0', () => {
    const values = [a.p, a.c1, a.c2, a.g].map((x) => [x, x, x]);
    const got = attributeAdvantages([p, c1, c2, g], values);
    // P's turn 0 is shared by all four; turn 1 by P and C2 (C1 and G left at turn 1); turn 2 by P alone.
    expect(got[0]![0]).toBeCloseTo((1 - 1 + 0.5 + 0.3) / 4, 12);
    expect(got[0]![1]).toBeCloseTo((1 + 0.5) / 2, 12);
    expect(got[0]![2]).toBe(1);
    // C1 replayed turn 0; its turn 1 is shared with G (which left at turn 2); turn 2 is its own.
    expect(got[1]).toEqual([0, expect.closeTo((-1 + 0.3) / 2, 12), -1]);
    expect(got[2]).toEqual([0, 0, 0.5]);
    expect(got[3]).toEqual([0, 0, 0.3]);
  });

  it('is the episode’s own advantage when nothing branched', () => {
    const q = episode('q', three);
    expect(
      attributeAdvantages(
        [p, q],
        [
          [1, 2, 3],
          [4, 5, 6],
        ],
      ),
    ).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
  });
});
