import type { Message, TrajectoryGroupJson, TrajectoryJson, Turn } from '@toolgym/protocol';
import { useEffect, useState } from 'preact/hooks';
import { api, formatReward, type PartialTrajectory } from './api.ts';
import { TokenCompare } from './token-compare.tsx';
import { TokenView } from './token-view.tsx';

export function RewardBreakdown({ trajectory }: { trajectory: TrajectoryJson }) {
  const { reward } = trajectory;
  return (
    <table class="reward" data-testid="reward-breakdown">
      <thead>
        <tr>
          <th>component</th>
          <th>value</th>
          <th>weight</th>
        </tr>
      </thead>
      <tbody>
        {Object.entries(reward.components).map(([name, value]) => (
          <tr>
            <td>{name}</td>
            <td>{formatReward(value)}</td>
            <td>{reward.weights[name] ?? '–'}</td>
          </tr>
        ))}
        <tr class="total">
          <td>total</td>
          <td>{formatReward(reward.total)}</td>
          <td />
        </tr>
      </tbody>
    </table>
  );
}

/**
 * The episode turn by turn: the assistant's text, each call with its arguments, each result, and
 * the environment's process reward for the call when it reports them (`reward.steps`, in call order).
 */
export function Turns({
  messages,
  turns,
  steps,
}: {
  messages: readonly Message[];
  turns: readonly Turn[];
  steps?: readonly number[] | undefined;
}) {
  const system = messages.find((m) => m.role === 'system');
  const user = messages.find((m) => m.role === 'user');
  const calls = turns.flatMap((turn) => turn.toolCalls);
  const stepOf = new Map(
    steps?.length === calls.length ? calls.map((call, i) => [call, steps[i]!] as const) : [],
  );
  return (
    <div class="turns">
      {system && <div class="msg system">{system.content}</div>}
      {user && <div class="msg user">{user.content}</div>}
      {turns.map((turn) => (
        <div class="turn" data-testid="turn">
          <div class="turn-head">
            turn {turn.index} · policy v{turn.policyVersion} · {turn.finishReason} ·{' '}
            {Math.round(turn.generateMs)} ms generate
            {turn.toolMs > 0 ? ` · ${Math.round(turn.toolMs)} ms tools` : ''}
          </div>
          <div class="msg assistant">{turn.text}</div>
          {turn.parseErrors.map((e) => (
            <div class="msg parse-error">
              parse error {e.code}: {e.message}
            </div>
          ))}
          {turn.toolCalls.map((call) => {
            const result = turn.toolResults.find((r) => r.callId === call.id);
            return (
              <div class="call" data-testid="tool-call">
                <div class="call-name">
                  → {call.name}
                  <code>{JSON.stringify(call.arguments)}</code>
                  {stepOf.has(call) && (
                    <span class="step-reward" data-testid="step-reward" title="process reward of this call">
                      {formatReward(stepOf.get(call))}
                    </span>
                  )}
                </div>
                {result && (
                  <div class={result.isError ? 'result error' : 'result'}>
                    {result.isError ? '✗ ' : '← '}
                    {result.content}
                    {result.truncated ? ' [truncated]' : ''}
                  </div>
                )}
              </div>
            );
          })}
        </div>
      ))}
    </div>
  );
}

export function TrajectoryDetail({ trajectory, onGroup }: { trajectory: TrajectoryJson; onGroup?: () => void }) {
  return (
    <div class="detail" data-testid="trajectory-detail">
      <div class="detail-head">
        <h2>{trajectory.id}</h2>
        <span class={`badge ${trajectory.status}`}>{trajectory.status}</span>
        {trajectory.truncation && <span class="badge truncated">{trajectory.truncation}</span>}
        {trajectory.failure && (
          <span class="badge failed">
            {trajectory.failure.code}: {trajectory.failure.message}
          </span>
        )}
        {onGroup && trajectory.groupId && (
          <button type="button" onClick={onGroup} data-testid="open-group">
            group side by side
          </button>
        )}
      </div>
      <div class="meta">
        {trajectory.envId} · {trajectory.taskId} · step {trajectory.step ?? '–'} · seed {trajectory.seed} ·{' '}
        {trajectory.tokenization} tokens · {Math.round(trajectory.timing.ms)} ms
      </div>
      <div class="detail-grid">
        <Turns messages={trajectory.messages} turns={trajectory.turns} steps={trajectory.reward.steps} />
        <RewardBreakdown trajectory={trajectory} />
      </div>
      <TokenView record={trajectory} pieces={usePieces(trajectory.id)} />
    </div>
  );
}

/** The decoded text piece of each token of a stored trajectory (empty until loaded). */
function usePieces(trajectoryId: string): Array<string | null> {
  const [pieces, setPieces] = useState<Array<string | null>>([]);
  useEffect(() => {
    setPieces([]);
    api.pieces(trajectoryId).then(setPieces);
  }, [trajectoryId]);
  return pieces;
}

/** A running or unfinished episode: what it recorded so far. */
export function PartialDetail({ partial }: { partial: PartialTrajectory }) {
  return (
    <div class="detail" data-testid="partial-detail">
      <div class="detail-head">
        <h2>{partial.trajectoryId}</h2>
        <span class={`badge ${partial.status}`} data-testid="partial-status">
          {partial.status}
        </span>
        {partial.reason && <span class="meta">{partial.reason}</span>}
      </div>
      <div class="meta">
        {partial.envId} · {partial.taskId} · step {partial.step ?? '–'} · seed {partial.seed} ·{' '}
        {partial.turns} turns so far
      </div>
      <Turns messages={partial.messages} turns={partial.turnList} />
      <TokenView
        record={{
          ...partial,
          turns: partial.turnList,
          promptLength: partial.turnList[0]?.sampled.start ?? 0,
        }}
        pieces={partial.pieces}
      />
    </div>
  );
}

/** The N episodes of one task in one step, side by side. */
export function GroupView({ group, onOpen }: { group: TrajectoryGroupJson; onOpen: (id: string) => void }) {
  const mean =
    group.trajectories.reduce((a, t) => a + t.reward.total, 0) / Math.max(1, group.trajectories.length);
  const ids = group.trajectories.map((t) => t.id);
  const [pair, setPair] = useState<[string, string] | null>(null);
  const [a, b] = (pair ?? []).map((id) => group.trajectories.find((t) => t.id === id));
  const choose = (side: 0 | 1) => (e: Event) => {
    const next: [string, string] = pair ?? [ids[0]!, ids[1] ?? ids[0]!];
    next[side] = (e.target as HTMLSelectElement).value;
    setPair([...next]);
  };
  return (
    <div class="group" data-testid="group-view">
      <h2>
        group {group.id} · {group.taskId} · mean reward {formatReward(mean)}
      </h2>
      {ids.length > 1 && (
        <div class="compare-pick">
          compare token by token{' '}
          <select data-testid="compare-a" value={pair?.[0] ?? ''} onChange={choose(0)}>
            <option value="">–</option>
            {ids.map((id) => (
              <option value={id}>{id.split('-').at(-1)}</option>
            ))}
          </select>{' '}
          with{' '}
          <select data-testid="compare-b" value={pair?.[1] ?? ''} onChange={choose(1)}>
            <option value="">–</option>
            {ids.map((id) => (
              <option value={id}>{id.split('-').at(-1)}</option>
            ))}
          </select>
        </div>
      )}
      {a && b && <TokenCompare a={a} b={b} />}
      <div class="group-columns">
        {group.trajectories.map((t) => (
          <div class="group-column">
            <div class="group-column-head">
              <button type="button" class="link" onClick={() => onOpen(t.id)}>
                {t.id.split('-').at(-1)}
              </button>{' '}
              reward <b>{formatReward(t.reward.total)}</b> · {t.turns.length} turns
            </div>
            <Turns messages={t.messages} turns={t.turns} steps={t.reward.steps} />
          </div>
        ))}
      </div>
    </div>
  );
}
