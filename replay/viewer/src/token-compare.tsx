import type { TrajectoryJson } from '@toolgym/protocol';
import { useEffect, useState } from 'preact/hooks';
import { api, formatReward } from './api.ts';
import { type ColourBy, ColourPicker, shownPiece, tokenColour, tokenTitle } from './token-view.tsx';

const SHOWN = 2000;

/**
 * Two trajectories of a group token by token: position i of each, one above the other, the pair
 * outlined where the ids differ. Members of a group share their prompt, so the first difference is
 * where their samples diverged.
 */
export function TokenCompare({ a, b }: { a: TrajectoryJson; b: TrajectoryJson }) {
  const [pieces, setPieces] = useState<[Array<string | null>, Array<string | null>]>([[], []]);
  const [by, setBy] = useState<ColourBy>('logprob');
  useEffect(() => {
    Promise.all([api.pieces(a.id), api.pieces(b.id)]).then(([pa, pb]) => setPieces([pa, pb]));
  }, [a.id, b.id]);
  const n = Math.max(a.tokens.length, b.tokens.length);
  let shared = 0;
  while (shared < n && a.tokens[shared] === b.tokens[shared]) shared++;
  let differing = 0;
  for (let i = 0; i < n; i++) if (a.tokens[i] !== b.tokens[i]) differing++;
  const maxAdvantage = Math.max(1e-9, ...[...(a.advantages ?? [0]), ...(b.advantages ?? [0])].map(Math.abs));
  const cell = (t: TrajectoryJson, p: Array<string | null>, i: number) => {
    if (i >= t.tokens.length) return <span class="tok absent">·</span>;
    const background = tokenColour(t, i, by, maxAdvantage);
    return (
      <span
        class={t.lossMask[i] === 0 ? 'tok masked' : 'tok sampled'}
        style={background ? { background } : undefined}
        title={tokenTitle(t, i)}
      >
        {shownPiece(p[i], t.tokens[i]!)}
      </span>
    );
  };
  const columns = [];
  for (let i = 0; i < Math.min(n, SHOWN); i++) {
    const same = a.tokens[i] === b.tokens[i];
    columns.push(
      <span class={same ? 'pair' : 'pair differs'} data-testid="token-pair" data-same={same}>
        {cell(a, pieces[0], i)}
        {cell(b, pieces[1], i)}
      </span>,
    );
  }
  return (
    <div class="token-compare" data-testid="token-compare">
      <div class="token-legend">
        <span data-testid="compare-summary">
          {a.id.split('-').at(-1)} (reward {formatReward(a.reward.total)}, {a.tokens.length} tokens) above{' '}
          {b.id.split('-').at(-1)} (reward {formatReward(b.reward.total)}, {b.tokens.length} tokens): first{' '}
          {shared} tokens shared, {differing} positions differ
        </span>
        <ColourPicker record={a} value={by} onChange={setBy} />
      </div>
      <div class="pairs">{columns}</div>
    </div>
  );
}
