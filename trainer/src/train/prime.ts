/**
 * PRIME in the RL step (`rl.prime`, Cui et al. 2025): a second learner, the implicit PRM π_φ, starts
 * from the policy RL starts from, which is also the reference π_ref. Each step it scores the
 * episodes' sampled tokens (r_φ = β·log π_φ/π_ref per token), then takes one Adam step on the
 * cross-entropy of σ(Σ_t r_φ) against the verifier's verdicts; the process rewards it gave and the
 * verdicts make the policy's per-token advantages. The PRM is checkpointed with the run (its
 * weights and Adam moments), so a resumed run's PRM continues where it was.
 */
import { type DecoderWeights, episodePassed } from '@toolgym/agents';
import type { Trajectory, TrajectoryGroup } from '@toolgym/protocol';
import { overlongKeepMask } from '../algorithms/batch-shaping.ts';
import { implicitProcessRewards, primeAdvantages, whiten } from '../algorithms/prime.ts';
import type { Datum, Learner, LearnerState } from '../learner/learner.ts';
import { rlDatum } from './learner-data.ts';
import type { TrainingRun } from './run.ts';

export interface Prime {
  /** The learner data of `groups` with PRIME's advantages, after the PRM's update on them. */
  score(groups: readonly TrajectoryGroup[]): Promise<{ data: Datum[]; metrics: Record<string, number> }>;
  /** The PRM π_φ, which a checkpoint keeps. */
  readonly prm: Learner;
  close(): Promise<void>;
}

/** PRIME's learners from RL's start; `resumed`: the PRM's state in a checkpoint, which it continues from. */
export async function createPrime(
  run: TrainingRun,
  start: DecoderWeights,
  resumed?: LearnerState,
): Promise<Prime> {
  const prime = run.config.rl.prime!;
  const reference = await run.learnerOf(start, 1);
  const prm = await run.learnerOf(start, 1);
  if (resumed) await prm.loadState(resumed);
  return {
    prm,
    async close() {
      await reference.close();
      await prm.close();
    },
    async score(groups): Promise<{ data: Datum[]; metrics: Record<string, number> }> {
      const kept = groups.map((g) => {
        const usable = g.trajectories.filter((t) => t.status !== 'failed' && t.tokenization === 'exact');
        const keep = run.config.rl.overlongFilter ? overlongKeepMask(usable) : usable.map(() => 1);
        return usable.filter((_, i) => keep[i] === 1);
      });
      const episodes = kept.flat();
      if (episodes.length === 0) return { data: [], metrics: {} };
      const base = episodes.map((t) => rlDatum(t, 0));
      const sampled = episodes.map(sampledPositions);
      const passed = episodes.map((t) => episodePassed(t));
      const ref = (await reference.forward(base, 'cross_entropy')).lossFnOutputs.map((o) => o.logprobs);
      // The PRM's logprobs before its update score this batch; the update trains on its verdicts.
      const labelled = base.map((d, i) => withInputs(d, passed[i] ? 1 : -1, ref[i]!));
      const fb = await prm.forwardBackward(labelled, 'implicit_prm', { prmBeta: prime.beta });
      await prm.optimStep({ learningRate: prime.learningRate });
      // logprobs[p − 1] is the logprob of the token at position p.
      const at = (logprobs: readonly number[], i: number) => sampled[i]!.map((p) => logprobs[p - 1]!);
      const process = episodes.map((_, i) =>
        implicitProcessRewards(at(fb.lossFnOutputs[i]!.logprobs, i), at(ref[i]!, i), prime.beta),
      );
      let next = 0;
      const advantages = whiten(
        kept.flatMap((group) =>
          primeAdvantages(
            group.map(() => {
              const i = next++;
              return { process: process[i]!, outcome: passed[i] ? 1 : 0 };
            }),
            { process: prime.processCoef, outcome: prime.outcomeCoef },
          ),
        ),
      );
      // Target i predicts the token at position i + 1.
      const data = base.map((d, i) => {
        const perTarget = d.lossFnInputs.target_tokens.map(() => 0);
        sampled[i]!.forEach((p, k) => {
          perTarget[p - 1] = advantages[i]![k]!;
        });
        return { ...d, lossFnInputs: { ...d.lossFnInputs, advantages: perTarget } };
      });
      const sequenceReward = process.map((r) => r.reduce((a, b) => a + b, 0));
      // The mean implicit reward of the episodes that passed (failed), when there are any.
      const meanOf = (name: string, want: boolean): Record<string, number> => {
        const xs = sequenceReward.filter((_, i) => passed[i] === want);
        return xs.length ? { [name]: xs.reduce((a, b) => a + b, 0) / xs.length } : {};
      };
      return {
        data,
        metrics: {
          'prm/loss': fb.metrics.loss ?? 0,
          // Its verdict: Σ_t r_φ > 0 for an episode that passed, ≤ 0 for one that failed.
          'prm/accuracy': sequenceReward.filter((r, i) => r > 0 === passed[i]).length / episodes.length,
          ...meanOf('prm/reward_passed', true),
          ...meanOf('prm/reward_failed', false),
        },
      };
    },
  };
}

/** Positions of the tokens the policy sampled. */
function sampledPositions(t: Trajectory): number[] {
  const out: number[] = [];
  t.lossMask.forEach((m, p) => {
    if (m === 1) out.push(p);
  });
  return out;
}

/** `d` with the PRM's inputs: its label as every token's advantage, and the reference's logprobs. */
function withInputs(d: Datum, label: number, refLogprobs: readonly number[]): Datum {
  return {
    ...d,
    lossFnInputs: {
      ...d.lossFnInputs,
      advantages: d.lossFnInputs.target_tokens.map(() => label),
      ref_logprobs: [...refLogprobs],
    },
  };
}
