/**
 * ARPO's adaptive rollout, played (`rl.sampling.branching`): after a group's episodes, extra
 * episodes branch from its high-entropy turns after tool results (`algorithms/arpo.ts` picks them)
 * until the group holds `budget` episodes. A branch is a new episode on a fresh session with the
 * parent's seed that replays the parent's first turns token for token (the environment answers
 * the same calls again) and samples anew from the branch point, so it works on any environment
 * whose tools answer the same calls of the same seed alike. A branch whose replay saw other tool
 * results is dropped and counted.
 */
import type { GenerateResult, Policy, SamplingParams } from '@toolgym/agents';
import { hashString, plainArray, type Trajectory, type TrajectoryGroup } from '@toolgym/protocol';
import { type BranchingParams, branchPoints, sequenceOf } from '../algorithms/arpo.ts';
import type { PlayRecord, TrainingRun } from './run.ts';

/** A policy that returns `parent`'s first `turn` turns as recorded, then samples with `inner` on seeds of its own. */
export function replayPolicy(inner: Policy, parent: Trajectory, turn: number, salt: string): Policy {
  const recorded: GenerateResult[] = parent.turns.slice(0, turn).map((t) => {
    const sequence = sequenceOf(parent, t.index);
    const { start, end } = t.sampled;
    return {
      text: t.text,
      tokens: plainArray(sequence.tokens.subarray(start, end)),
      logprobs: plainArray(sequence.logprobs.subarray(start, end)),
      ...(sequence.policyLogprobs
        ? { policyLogprobs: plainArray(sequence.policyLogprobs.subarray(start, end)) }
        : {}),
      finishReason: t.finishReason,
      policyVersion: t.policyVersion,
    };
  });
  let calls = 0;
  return {
    id: inner.id,
    get version() {
      return inner.version;
    },
    ...(inner.tokenizer ? { tokenizer: inner.tokenizer } : {}),
    ...(inner.chatTemplate !== undefined ? { chatTemplate: inner.chatTemplate } : {}),
    async generate(request) {
      const replayed = recorded[calls++];
      if (replayed) return replayed;
      const seed = hashString(`${request.sampling.seed ?? 0}:${salt}`);
      return inner.generate({ ...request, sampling: { ...request.sampling, seed } });
    },
  };
}

/** The conversation up to (without) the `turn`-th assistant message. */
function before(t: Trajectory, turn: number): string {
  let seen = 0;
  const at = t.messages.findIndex((m) => m.role === 'assistant' && seen++ === turn);
  return JSON.stringify(at < 0 ? t.messages : t.messages.slice(0, at));
}

/** What branching added to a step's groups. */
export interface Branched {
  groups: TrajectoryGroup[];
  /** Branch episodes kept, over all groups. */
  branches: number;
  /** Branch episodes whose replay saw other tool results than their parent's. */
  dropped: number;
}

/** Grows each group by branching (see the file comment); groups keep their order. */
export async function branchGroups(
  run: Pick<TrainingRun, 'play' | 'policy'>,
  groups: readonly TrajectoryGroup[],
  sampling: SamplingParams,
  branching: BranchingParams & { budget: number },
  record: PlayRecord,
): Promise<Branched> {
  let branches = 0;
  let dropped = 0;
  const grown = await Promise.all(
    groups.map(async (group) => {
      const trajectories = [...group.trajectories];
      const taken = new Set<string>();
      let room = branching.budget - trajectories.length;
      while (room > 0) {
        const points = branchPoints(trajectories, branching, room, taken);
        if (points.length === 0) break;
        const played = await Promise.all(
          points.flatMap((point) => {
            const parent = trajectories[point.episode]!;
            taken.add(`${parent.id}:${point.turn}`);
            room -= point.count;
            return Array.from({ length: point.count }, async (_, b) => {
              const policy = replayPolicy(run.policy, parent, point.turn, `${parent.id}:${point.turn}:${b}`);
              const {
                groups: [one],
              } = await run.play(policy, [parent.taskId], 1, sampling, {
                ...record,
                sink: undefined,
                baseSeed: parent.seed,
              });
              const child = one!.trajectories[0]!;
              if (before(child, point.turn) !== before(parent, point.turn)) {
                dropped++;
                return undefined;
              }
              // The replayed turns are the parent's to train.
              for (const turn of child.turns.slice(0, point.turn)) {
                const mask = sequenceOf(child, turn.index).lossMask;
                for (let i = turn.sampled.start; i < turn.sampled.end; i++) mask[i] = 0;
              }
              return {
                ...child,
                groupId: group.id,
                branchedFrom: { trajectoryId: parent.id, turn: point.turn },
              };
            });
          }),
        );
        for (const t of played) {
          if (!t) continue;
          trajectories.push(t);
          branches++;
        }
      }
      return { ...group, trajectories };
    }),
  );
  return { groups: grown, branches, dropped };
}
