import type { Trajectory } from '@toolgym/protocol';
import { useState } from 'preact/hooks';

const SHOWN = 3000;

/**
 * Every token of the episode. Sampled tokens (loss mask 1) are coloured by the sampling
 * probability (red = unlikely, green = likely) or by advantage (blue > 0, red < 0); tokens the
 * learner never trains on (mask 0: prompt, tool results) are grey and struck through on hover.
 */
export function TokenView({ trajectory }: { trajectory: Trajectory }) {
  const hasAdvantages = trajectory.advantages !== undefined;
  const [mode, setMode] = useState<'logprob' | 'advantage'>('logprob');
  const [all, setAll] = useState(false);
  const n = trajectory.tokens.length;
  const shown = all ? n : Math.min(n, SHOWN);
  const maxAdvantage = Math.max(1e-9, ...(trajectory.advantages ?? [0]).map(Math.abs));
  const turnAt = new Map(trajectory.turns.map((t) => [t.sampled.start, t.index]));
  const sampled = trajectory.lossMask.reduce<number>((a, b) => a + b, 0);
  const cells = [];
  for (let i = 0; i < shown; i++) {
    const turn = turnAt.get(i);
    if (i === trajectory.promptLength && turn === undefined)
      cells.push(<span class="boundary">response</span>);
    if (turn !== undefined) cells.push(<span class="boundary">turn {turn}</span>);
    const masked = trajectory.lossMask[i] === 0;
    const lp = trajectory.logprobs[i] ?? 0;
    const adv = trajectory.advantages?.[i] ?? 0;
    let background = '';
    if (!masked) {
      if (mode === 'logprob') background = `hsl(${Math.round(120 * Math.exp(lp))} 70% 80%)`;
      else {
        const alpha = Math.min(1, Math.abs(adv) / maxAdvantage) * 0.8 + 0.1;
        background = adv >= 0 ? `rgba(37,99,235,${alpha})` : `rgba(220,38,38,${alpha})`;
      }
    }
    cells.push(
      <span
        class={masked ? 'tok masked' : 'tok sampled'}
        style={background ? { background } : undefined}
        title={`#${i} id ${trajectory.tokens[i]} · mask ${trajectory.lossMask[i]} · logprob ${lp.toFixed(3)}${hasAdvantages ? ` · adv ${adv.toFixed(3)}` : ''}`}
      >
        {trajectory.tokens[i]}
      </span>,
    );
  }
  return (
    <div class="token-view" data-testid="token-view">
      <div class="token-legend">
        <span>
          {n} tokens · {sampled} sampled (loss mask 1) · prompt {trajectory.promptLength}
        </span>
        <label>
          colour by{' '}
          <select
            value={mode}
            onChange={(e) => setMode((e.target as HTMLSelectElement).value as 'logprob' | 'advantage')}
          >
            <option value="logprob">probability</option>
            <option value="advantage" disabled={!hasAdvantages}>
              advantage{hasAdvantages ? '' : ' (not stored)'}
            </option>
          </select>
        </label>
        <span class="tok masked">mask 0</span>
        {mode === 'logprob' ? (
          <>
            <span class="tok sampled" style={{ background: 'hsl(10 70% 80%)' }}>
              unlikely
            </span>
            <span class="tok sampled" style={{ background: 'hsl(115 70% 80%)' }}>
              likely
            </span>
          </>
        ) : (
          <>
            <span class="tok sampled" style={{ background: 'rgba(220,38,38,0.7)' }}>
              advantage &lt; 0
            </span>
            <span class="tok sampled" style={{ background: 'rgba(37,99,235,0.7)' }}>
              advantage &gt; 0
            </span>
          </>
        )}
      </div>
      <div class="tokens">{cells}</div>
      {shown < n && (
        <button type="button" onClick={() => setAll(true)}>
          show all {n} tokens
        </button>
      )}
    </div>
  );
}
