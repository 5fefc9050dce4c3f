import type { Turn } from '@toolgym/protocol';
import { useState } from 'preact/hooks';

const SHOWN = 3000;

/** The token arrays of a trajectory, finished or partial. */
export interface TokenRecord {
  tokens: readonly number[];
  lossMask: ReadonlyArray<0 | 1>;
  /** Behaviour logprobs: the distribution each token was drawn from. */
  logprobs: readonly number[];
  /** The policy's own logprobs, when recorded. */
  policyLogprobs?: readonly number[] | undefined;
  advantages?: readonly number[] | undefined;
  promptLength: number;
  turns: readonly Turn[];
}

export type ColourBy = 'mask' | 'logprob' | 'policy-logprob' | 'advantage';

/** A token's text as shown: the decoded piece with whitespace made visible, or its id when unknown. */
export function shownPiece(piece: string | null | undefined, id: number): string {
  if (piece === null || piece === undefined) return `#${id}`;
  return piece.replaceAll('\n', '↵\n').replaceAll('\t', '→') || '∅';
}

/** The background of a token under a colour mode (none where it has no value). */
export function tokenColour(record: TokenRecord, i: number, by: ColourBy, maxAdvantage: number): string {
  const masked = record.lossMask[i] === 0;
  if (by === 'mask') return masked ? '' : 'hsl(210 80% 85%)';
  if (masked) return '';
  if (by === 'advantage') {
    const adv = record.advantages?.[i] ?? 0;
    const alpha = Math.min(1, Math.abs(adv) / maxAdvantage) * 0.8 + 0.1;
    return adv >= 0 ? `rgba(37,99,235,${alpha})` : `rgba(220,38,38,${alpha})`;
  }
  const lp = (by === 'logprob' ? record.logprobs : record.policyLogprobs)?.[i] ?? 0;
  return `hsl(${Math.round(120 * Math.exp(lp))} 70% 80%)`;
}

export function tokenTitle(record: TokenRecord, i: number): string {
  const parts = [
    `#${i}`,
    `id ${record.tokens[i]}`,
    `mask ${record.lossMask[i]}`,
    `logprob ${(record.logprobs[i] ?? 0).toFixed(3)}`,
  ];
  if (record.policyLogprobs) parts.push(`policy logprob ${(record.policyLogprobs[i] ?? 0).toFixed(3)}`);
  if (record.advantages) parts.push(`adv ${(record.advantages[i] ?? 0).toFixed(3)}`);
  return parts.join(' · ');
}

/** The colour modes a record supports, with why one is not available. */
function colourModes(record: TokenRecord): Array<[ColourBy, string, boolean]> {
  return [
    ['mask', 'loss mask', true],
    ['logprob', 'behaviour probability', true],
    [
      'policy-logprob',
      `policy probability${record.policyLogprobs ? '' : ' (not recorded)'}`,
      record.policyLogprobs !== undefined,
    ],
    ['advantage', `advantage${record.advantages ? '' : ' (not stored)'}`, record.advantages !== undefined],
  ];
}

export function ColourPicker({
  record,
  value,
  onChange,
}: {
  record: TokenRecord;
  value: ColourBy;
  onChange: (by: ColourBy) => void;
}) {
  return (
    <label>
      colour by{' '}
      <select
        value={value}
        data-testid="colour-by"
        onChange={(e) => onChange((e.target as HTMLSelectElement).value as ColourBy)}
      >
        {colourModes(record).map(([mode, label, enabled]) => (
          <option value={mode} disabled={!enabled}>
            {label}
          </option>
        ))}
      </select>
    </label>
  );
}

/**
 * Every token of the episode as its decoded text piece (id, mask and logprobs on hover), coloured
 * by loss mask, by the behaviour or the policy's probability, or by advantage; tokens the learner
 * never trains on (mask 0: prompt, tool results) are grey and dashed in every mode.
 */
export function TokenView({ record, pieces }: { record: TokenRecord; pieces: ReadonlyArray<string | null> }) {
  const [by, setBy] = useState<ColourBy>('logprob');
  const [all, setAll] = useState(false);
  const n = record.tokens.length;
  const shown = all ? n : Math.min(n, SHOWN);
  const maxAdvantage = Math.max(1e-9, ...(record.advantages ?? [0]).map(Math.abs));
  const turnAt = new Map(record.turns.map((t) => [t.sampled.start, t.index]));
  const sampled = record.lossMask.reduce<number>((a, b) => a + b, 0);
  const cells = [];
  for (let i = 0; i < shown; i++) {
    const turn = turnAt.get(i);
    if (i === record.promptLength && turn === undefined) cells.push(<span class="boundary">response</span>);
    if (turn !== undefined) cells.push(<span class="boundary">turn {turn}</span>);
    const background = tokenColour(record, i, by, maxAdvantage);
    cells.push(
      <span
        class={record.lossMask[i] === 0 ? 'tok masked' : 'tok sampled'}
        style={background ? { background } : undefined}
        title={tokenTitle(record, i)}
        data-id={record.tokens[i]}
      >
        {shownPiece(pieces[i], record.tokens[i]!)}
      </span>,
    );
  }
  return (
    <div class="token-view" data-testid="token-view">
      <div class="token-legend">
        <span>
          {n} tokens · {sampled} sampled (loss mask 1) · prompt {record.promptLength}
        </span>
        <ColourPicker record={record} value={by} onChange={setBy} />
        <span class="tok masked">mask 0</span>
        {by === 'advantage' ? (
          <>
            <span class="tok sampled" style={{ background: 'rgba(220,38,38,0.7)' }}>
              advantage &lt; 0
            </span>
            <span class="tok sampled" style={{ background: 'rgba(37,99,235,0.7)' }}>
              advantage &gt; 0
            </span>
          </>
        ) : by === 'mask' ? (
          <span class="tok sampled" style={{ background: 'hsl(210 80% 85%)' }}>
            mask 1
          </span>
        ) : (
          <>
            <span class="tok sampled" style={{ background: 'hsl(10 70% 80%)' }}>
              unlikely
            </span>
            <span class="tok sampled" style={{ background: 'hsl(115 70% 80%)' }}>
              likely
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
