/**
 * The onnx policy inside the real agent loop (playEpisode) against the compose environment
 * in process: the trajectory holds exactly the tokens and logprobs the engine sampled.
 */
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeEnvironment, inProcessClient } from '../../test/helpers.test-double.ts';
import { playEpisode } from '../agent-loop.ts';
import type { GenerateResult, Policy } from '../policy.ts';
import { createPolicyFromSpec } from '../policy-spec.ts';
import { OnnxPolicy } from './onnx-policy.ts';
import { createTinyTestModel } from './tiny-test-model.ts';

let dir: string;
let policy: OnnxPolicy;
beforeAll(async () => {
  // Room for the compose environment's ~1,200-token first prompt.
  ({ dir } = await createTinyTestModel(7, { maxPositions: 2048 }));
  policy = (await createPolicyFromSpec(`onnx:${dir}`, {
    toolFormat: 'native',
    options: { kvCache: 'in-place' },
  })) as OnnxPolicy;
});
afterAll(async () => {
  await policy.close();
  await rm(dir, { recursive: true, force: true });
});

describe('onnx policy in the agent loop', () => {
  it('is created from the onnx:<dir> spec', () => {
    expect(policy.id).toBe(`onnx:${dir}`);
    expect(policy.executionProvider.provider).toBe('cpu');
  });

  it('plays an episode; sampled tokens, behaviour and policy logprobs land in the trajectory under the loss mask', async () => {
    const env = composeEnvironment();
    const task = (await env.tasksOf('test'))[0]!;
    const client = await inProcessClient(env);
    const results: GenerateResult[] = [];
    const recording: Policy = {
      id: policy.id,
      version: policy.version,
      tokenizer: policy.tokenizer,
      chatTemplate: policy.chatTemplate!,
      async generate(request) {
        const result = await policy.generate(request);
        results.push(result);
        return result;
      },
    };
    const t = await playEpisode({
      client,
      policy: recording,
      start: { taskId: task.id, seed: 1 },
      sampling: { maxTokens: 24, temperature: 1 },
      maxTurns: 2,
    });
    await client.close();
    expect(t.failure, JSON.stringify(t.failure)).toBeUndefined();
    expect(t.turns.length).toBeGreaterThan(0);
    const sampled = Array.from(t.tokens).filter((_, i) => t.lossMask[i] === 1);
    expect(sampled.length).toBeGreaterThan(0);
    expect(sampled).toEqual(results.flatMap((r) => r.tokens!));
    expect(Array.from(t.logprobs).filter((_, i) => t.lossMask[i] === 1)).toEqual(results.flatMap((r) => r.logprobs!));
    // The policy's own logprobs beside them, 0 off the mask like the behaviour logprobs.
    expect(Array.from(t.policyLogprobs!).filter((_, i) => t.lossMask[i] === 1)).toEqual(
      results.flatMap((r) => r.policyLogprobs!),
    );
    expect(t.policyLogprobs!.filter((_, i) => t.lossMask[i] === 0).every((lp) => lp === 0)).toBe(true);
    expect(t.turns.every((turn) => turn.policyVersion === 0)).toBe(true);
  });

  it('a prompt beyond the position table ends the episode with a recorded reason', async () => {
    const small = await createTinyTestModel(7);
    const tinyPolicy = await OnnxPolicy.create({ model: small.dir });
    const env = composeEnvironment();
    const task = (await env.tasksOf('test'))[0]!;
    const client = await inProcessClient(env);
    const t = await playEpisode({
      client,
      policy: tinyPolicy,
      start: { taskId: task.id, seed: 1 },
      sampling: { maxTokens: 8 },
    });
    await client.close();
    await tinyPolicy.close();
    await rm(small.dir, { recursive: true, force: true });
    expect(t.status).toBe('failed');
    expect(t.failure?.code).toBe('prompt_too_long');
  });
});
