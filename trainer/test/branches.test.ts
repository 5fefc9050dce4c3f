/**
 * A chat template that rewrites history, end to end: DeepSeek-R1/Qwen3-style reasoning stripping
 * (earlier turns lose their `<think>` part) over multi-turn compose episodes gives trajectories in
 * branches; the built-in decoder trains every branch, each sampled token once, in the context it
 * was sampled in.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  BYTE_TOKENIZER_VOCAB_SIZE,
  ChatTemplate,
  createOnnxPolicy,
  type DecoderConfig,
  type GenerateResult,
  hermesToolCalls,
  initDecoderWeights,
  type Policy,
  runRollouts,
  verifyTrajectoryTokens,
  writeDecoderModelDir,
} from '@toolgym/agents';
import { discoverEnvironments, EnvironmentClient } from '@toolgym/env-kit';
import { afterAll, describe, expect, it } from 'vitest';
import { createEmbeddedLearner } from '../src/learner/embedded-learner.ts';
import { lossWeights } from '../src/learner/learner.ts';
import { rlData } from '../src/train/learner-data.ts';

/**
 * ChatML whose assistant turns keep only what follows `</think>` once they are history, and whose
 * generation prompt opens the reasoning (as DeepSeek-R1's template does; Qwen3's strips the same
 * way before the last user turn).
 */
const REASONING_STRIPPING_TEMPLATE = String.raw`
{%- for message in messages %}
{%- if message.role == 'assistant' %}
{{- '<|im_start|>assistant\n' + (message.content.split('</think>')[-1] | trim) + '<|im_end|>\n' }}
{%- elif message.role == 'tool' %}
{{- '<|im_start|>user\n<tool_response>\n' + message.content + '\n</tool_response><|im_end|>\n' }}
{%- else %}
{{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>\n' }}
{%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}{{- '<|im_start|>assistant\n<think>\n' }}{%- endif %}`;

const decoder: DecoderConfig = {
  vocabSize: BYTE_TOKENIZER_VOCAB_SIZE,
  dModel: 16,
  nLayers: 1,
  nHeads: 2,
  dFF: 32,
  maxPositions: 512,
  layerNormEps: 1e-5,
};
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/**
 * TEST DOUBLE of a reasoning model: the untrained built-in model cannot call tools, so the turns
 * are the oracle's calls, each after a line of reasoning, in the model's own tokens.
 */
function reasoningOracle(tokenizer: NonNullable<Policy['tokenizer']>): Policy {
  const endOfTurn = tokenizer.specialTokens.get('<|im_end|>')!;
  return {
    id: 'reasoning-oracle-test-double',
    version: 0,
    tokenizer,
    generate: () => Promise.reject(new Error('bind the episode first')),
    async bindEpisode(binding) {
      const { calls } = await binding.oracle();
      let turn = 0;
      return {
        id: 'reasoning-oracle-test-double',
        version: 0,
        tokenizer,
        async generate(): Promise<GenerateResult> {
          const call = calls[turn++];
          const text = call
            ? `Step ${turn}: ${call.name} next.\n</think>\n\n${hermesToolCalls.render([call])}`
            : 'All done.\n</think>\n\nDone.';
          const tokens = [...tokenizer.encode(text), endOfTurn];
          return { text, tokens, logprobs: tokens.map(() => 0), finishReason: 'stop', policyVersion: 0 };
        },
      };
    },
  };
}

describe('branches from a template that strips reasoning', () => {
  it('records multi-turn episodes as branches, and the built-in model trains every branch', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'toolgym-branches-'));
    dirs.push(dir);
    const weights = initDecoderWeights(decoder, { seed: 4, std: 0.1 });
    await writeDecoderModelDir(dir, { config: decoder, weights });
    const model = await createOnnxPolicy({ model: dir, executionProvider: 'cpu' });
    const tokenizer = model.tokenizer;
    await model.close();
    const environment = (await discoverEnvironments()).make('compose', {
      functions: ['reverse', 'upper', 'double'],
      depths: [3],
      tasksPerDepth: 4,
      alphabet: 'abc',
      minLength: 3,
      maxLength: 4,
    });
    const template = new ChatTemplate(REASONING_STRIPPING_TEMPLATE, {}, 'reasoning-stripping test template');
    const tasks = (await environment.tasksOf('train')).slice(0, 2);
    const { groups } = await runRollouts({
      connect: () => EnvironmentClient.connect({ kind: 'direct', environment }),
      policy: reasoningOracle(tokenizer),
      taskIds: tasks.map((t) => t.id),
      groupSize: 2,
      concurrency: 2,
      sampling: { maxTokens: 128 },
      episode: { template },
      progress: false,
    });
    const trajectories = groups.flatMap((g) => g.trajectories);
    expect(trajectories).toHaveLength(4);
    for (const t of trajectories) {
      expect(t.failure).toBeUndefined();
      expect(t.reward.components.correct).toBe(1);
      // Three calls and the answer call: the template strips each turn's reasoning as soon as it
      // is history, so every turn before the last closes a branch.
      expect(t.turns).toHaveLength(4);
      expect(t.branches).toHaveLength(3);
      expect(t.turns.map((turn) => turn.branch)).toEqual([0, 1, 2, undefined]);
      expect(verifyTrajectoryTokens(t, tokenizer, template, environment.toolSpecs)).toEqual({ ok: true });
      // A later branch starts from the template's render: earlier reasoning gone, as context only.
      const prompt = tokenizer.decode(t.tokens.slice(0, t.promptLength));
      expect(prompt).toBe(template.render(t.messages.slice(0, 7), [], { addGenerationPrompt: true }));
      expect(prompt).not.toContain('Step');
      expect(tokenizer.decode(t.tokens.slice(t.turns[3]!.sampled.start))).toMatch(/^Step 4: answer next/);
    }

    // One datum per branch; every sampled token is trained exactly once.
    const data = trajectories.flatMap((t) => rlData(t, 1));
    expect(data).toHaveLength(trajectories.length * 4);
    const sampledTokens = trajectories.reduce(
      (n, t) => n + t.turns.reduce((m, turn) => m + turn.sampled.end - turn.sampled.start, 0),
      0,
    );
    expect(data.reduce((n, d) => n + lossWeights(d).reduce((a, b) => a + b, 0), 0)).toBe(sampledTokens);

    // A positive advantage raises the probability of every branch's sampled tokens.
    const learner = await createEmbeddedLearner({ decoder, weights });
    const before = await learner.forward(data);
    data.forEach((d, i) => {
      d.lossFnInputs.logprobs = before.lossFnOutputs[i]!.logprobs;
    });
    await learner.forwardBackward(data, 'importance_sampling');
    await learner.optimStep({ learningRate: 0.02 });
    const after = await learner.forward(data);
    data.forEach((d, i) => {
      const w = lossWeights(d);
      const gain = after.lossFnOutputs[i]!.logprobs.reduce(
        (s, lp, j) => s + w[j]! * (lp - before.lossFnOutputs[i]!.logprobs[j]!),
        0,
      );
      expect(gain, `datum ${i}`).toBeGreaterThan(0);
    });
    await learner.close();
  }, 60_000);
});
