import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  type Branch,
  protocolJsonSchemas,
  type Trajectory,
  TrajectorySchema,
  trajectoryGroupJson,
  trajectoryJson,
} from '@toolgym/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { exportJsonl } from '../src/export.ts';
import { TrajectoryStore } from '../src/store.ts';
import { encodeFloat32, encodeInt32, encodeUint8 } from '../src/token-codec.ts';
import { makeGroup } from './generate.ts';

/**
 * A trajectory holds typed arrays; every format it is written in must be byte for byte what the
 * same trajectory holding plain arrays wrote (JSONL, the store's rows, the feed's and API's JSON).
 */

/** Doubles JSON writes in full and a careless conversion would change: -0, subnormals, 17 digits. */
const AWKWARD = [-0, -Math.PI, -5e-324, -1.2345678901234567, -2.2250738585072014e-308, -700.5, -1 / 3];

/** `t` as the code before typed arrays held it: the same object, the same keys, plain arrays. */
function plain(t: Trajectory): unknown {
  const sequence = (s: Branch) => ({
    ...s,
    tokens: Array.from(s.tokens),
    lossMask: Array.from(s.lossMask),
    logprobs: Array.from(s.logprobs),
    ...(s.policyLogprobs ? { policyLogprobs: Array.from(s.policyLogprobs) } : {}),
  });
  return { ...sequence(t), ...(t.branches ? { branches: t.branches.map(sequence) } : {}) };
}

/** A generated trajectory with awkward logprobs, a branch before it, and advantages. */
function awkwardTrajectory(): Trajectory {
  const t = makeGroup({ runId: 'r1', step: 0, taskIndex: 0, groupSize: 1 }).trajectories[0]!;
  const logprobs = t.logprobs.map((_, i) => (t.lossMask[i] ? AWKWARD[i % AWKWARD.length]! : 0));
  const branch: Branch = {
    tokens: t.tokens.slice(0, t.promptLength + 3),
    lossMask: t.lossMask.slice(0, t.promptLength + 3),
    logprobs: logprobs.slice(0, t.promptLength + 3),
    policyLogprobs: logprobs.slice(0, t.promptLength + 3).map((x) => x / 3),
    promptLength: t.promptLength,
  };
  return {
    ...t,
    logprobs,
    branches: [branch],
    advantages: Array.from(t.lossMask, (m, i) => (m ? AWKWARD[i % AWKWARD.length]! : 0)),
  };
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'typed-bytes-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('a trajectory of typed arrays, written out', () => {
  it('serialises to exactly the JSON a plain one did, branches and awkward doubles included', () => {
    const t = awkwardTrajectory();
    expect(t.tokens).toBeInstanceOf(Int32Array);
    expect(t.branches![0]!.policyLogprobs).toBeInstanceOf(Float64Array);
    const json = JSON.stringify(trajectoryJson(t));
    expect(json).toBe(JSON.stringify(plain(t)));
    // Without the conversion JSON writes each typed array as an object of indices.
    expect(JSON.stringify(t)).not.toBe(json);
    const group = { ...makeGroup({ runId: 'r1', step: 0, taskIndex: 1, groupSize: 1 }), trajectories: [t] };
    expect(JSON.stringify(trajectoryGroupJson(group))).toBe(JSON.stringify({ ...group, trajectories: [plain(t)] }));
    // Parsing the JSON gives a typed trajectory holding the numbers the JSON holds.
    const back = TrajectorySchema.parse(JSON.parse(json));
    expect(back.logprobs).toBeInstanceOf(Float64Array);
    expect(Array.from(back.logprobs)).toEqual(JSON.parse(json).logprobs);
    expect(JSON.stringify(trajectoryJson(back))).toBe(JSON.stringify(trajectoryJson(TrajectorySchema.parse(t))));
  });

  it('stores the same row bytes, exports the same JSONL, and reads back the same trajectory', async () => {
    const t = awkwardTrajectory();
    for (const [typed, asPlain] of [
      [encodeInt32(t.tokens), encodeInt32(Array.from(t.tokens))],
      [encodeUint8(t.lossMask), encodeUint8(Array.from(t.lossMask))],
      [encodeFloat32(t.logprobs), encodeFloat32(Array.from(t.logprobs))],
    ] as const)
      expect(Buffer.compare(typed, asPlain)).toBe(0);
    const store = TrajectoryStore.open(path.join(dir, 'store.db'));
    const { advantages, ...unscored } = t;
    store.appendGroup({ ...makeGroup({ runId: 'r1', step: 0, taskIndex: 2, groupSize: 1 }), trajectories: [unscored] });
    store.setAdvantages(t.id, advantages!);
    const file = path.join(dir, 'out.jsonl');
    await exportJsonl(store, file);
    const back = store.getTrajectory(t.id);
    store.close();
    expect(back.tokens).toBeInstanceOf(Int32Array);
    expect(back.branches![0]!.tokens).toBeInstanceOf(Int32Array);
    expect(Array.from(back.tokens)).toEqual(Array.from(t.tokens));
    expect(back.branches).toEqual(t.branches);
    // The export is the stored trajectory as plain JSON (logprobs and advantages rounded to
    // float32 by the store, as before).
    expect(readFileSync(file, 'utf8')).toBe(`${JSON.stringify(plain(back))}\n`);
  });

  it('refuses a typed array holding what its JSON form may not, naming the field', () => {
    const t = awkwardTrajectory();
    const cases: Array<[Partial<Trajectory>, string]> = [
      [{ tokens: Int32Array.of(...t.tokens.subarray(0, -1), -3) }, 'tokens'],
      [{ lossMask: Uint8Array.of(...t.lossMask.subarray(0, -1), 2) }, 'lossMask'],
      [{ logprobs: Float64Array.of(...t.logprobs.subarray(0, -1), Number.NaN) }, 'logprobs'],
      [{ logprobs: new Float32Array(t.tokens.length) as unknown as Float64Array }, 'logprobs'],
    ];
    for (const [bad, field] of cases) {
      const parsed = TrajectorySchema.safeParse({ ...t, ...bad });
      expect(parsed.success).toBe(false);
      expect(parsed.error!.issues[0]!.path).toEqual([field]);
    }
  });

  it('publishes the JSON form only in the JSON Schema: arrays of numbers', () => {
    const schema = protocolJsonSchemas().Trajectory as {
      properties: Record<string, { anyOf: Array<Record<string, unknown>> }>;
    };
    const [json, typed] = schema.properties.tokens!.anyOf;
    expect(json).toMatchObject({ type: 'array', items: { type: 'integer', minimum: 0 } });
    expect(typed).toEqual({ not: {} });
  });
});
