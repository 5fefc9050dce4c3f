import { discoverEnvironments, EnvironmentClient } from '@toolgym/env-kit';
import { describe, expect, it } from 'vitest';
import { playEpisode } from '../src/agent-loop.ts';
import { ChatTemplate } from '../src/chat/chat-template.ts';
import { episodePassed } from '../src/episode-outcome.ts';
import { createOraclePolicy, createRandomPolicy } from '../src/policies/scripted.ts';
import { verifyTrajectoryTokens } from '../src/verify-trajectory.ts';
import { ByteTokenizerTestDouble } from './byte-tokenizer.test-double.ts';

// Every environment the workspace registers, so environments are covered as they land.
const registry = await discoverEnvironments();
const definitions = registry.list();
const tokenizer = new ByteTokenizerTestDouble();
const sampling = { maxTokens: 4096, temperature: 0 };

describe('an episode against every registered environment', () => {
  it('finds at least the compose environment', () => {
    expect(definitions.map((d) => d.id)).toContain('compose');
  });

  for (const definition of definitions) {
    describe(definition.ref, () => {
      const env = registry.make(definition.ref);
      const pickTask = async () => (await env.tasksOf('test'))[0] ?? (await env.tasks())[0]!;

      it('oracle policy solves a task (exact tokens), or the missing oracle is reported as the failure', async () => {
        const task = await pickTask();
        const client = await EnvironmentClient.connect({ kind: 'in-process', environment: env });
        try {
          const t = await playEpisode({
            client,
            policy: createOraclePolicy({ tokenizer }),
            start: { taskId: task.id, seed: 1 },
            sampling,
          });
          if (!definition.oracle) {
            process.stderr.write(
              `note: environment ${definition.ref} has no oracle; the oracle policy fails with ${t.failure?.code}\n`,
            );
            expect(t.status).toBe('failed');
            expect(t.failure?.code).toBe('no_oracle');
            return;
          }
          expect(t.failure).toBeUndefined();
          expect(episodePassed(t, { rewardRange: definition.rewardRange })).toBe(true);
          expect(verifyTrajectoryTokens(t, tokenizer, ChatTemplate.hermes(), env.toolSpecs)).toEqual({
            ok: true,
          });
        } finally {
          await client.close();
        }
      });

      it('random policy plays to an end without failing, reward within the declared range', async () => {
        const task = await pickTask();
        const client = await EnvironmentClient.connect({ kind: 'in-process', environment: env });
        try {
          const t = await playEpisode({
            client,
            policy: createRandomPolicy(),
            start: { taskId: task.id, seed: 2 },
            sampling,
          });
          expect(t.failure).toBeUndefined();
          expect(['terminated', 'truncated']).toContain(t.status);
          expect(t.turns.length).toBeGreaterThan(0);
          expect(t.reward.total).toBeGreaterThanOrEqual(definition.rewardRange[0]);
          expect(t.reward.total).toBeLessThanOrEqual(definition.rewardRange[1]);
        } finally {
          await client.close();
        }
      });
    });
  }
});
