import type { ToolSpec, Trajectory } from '@toolgym/protocol';
import type { ChatTemplate } from './chat/chat-template.ts';
import type { Tokenizer } from './tokenizer.ts';
import { templateStopTokenId } from './turn-renderer.ts';

export type TokenCheck = { ok: true } | { ok: false; reason: string };

/**
 * Checks an exact-token trajectory against its own record: the loss mask is 1 exactly on the
 * sampled spans and logprobs are 0 elsewhere, in every sequence; and, for an episode recorded as
 * one sequence, the tokens decode to the template's render of its messages (an end token the
 * template spells otherwise read as the template's). The trainer can run it before training on
 * data from elsewhere.
 */
export function verifyTrajectoryTokens(
  trajectory: Trajectory,
  tokenizer: Tokenizer,
  template: ChatTemplate,
  tools: readonly ToolSpec[],
): TokenCheck {
  if (trajectory.tokenization !== 'exact')
    return { ok: false, reason: 'the trajectory is text-only (the engine gave no token ids)' };
  const sequences = [...(trajectory.branches ?? []), trajectory];
  for (const [b, sequence] of sequences.entries()) {
    const where = b < sequences.length - 1 ? `branch ${b}, ` : '';
    const turns = trajectory.turns.filter((t) => (t.branch ?? sequences.length - 1) === b);
    const check = checkMask(sequence, turns);
    if (!check.ok) return { ok: false, reason: where + check.reason };
  }
  if (trajectory.branches?.length) return { ok: true };
  const stop = templateStopTokenId(template, tokenizer);
  const tokens = [...trajectory.tokens];
  for (const turn of trajectory.turns)
    if (turn.stopTokenId !== undefined && stop !== undefined) tokens[turn.sampled.end - 1] = stop;
  const decoded = tokenizer.decode(tokens);
  const rendered = template.render(trajectory.messages, tools, { addGenerationPrompt: false });
  if (decoded !== rendered) {
    let offset = 0;
    while (offset < decoded.length && decoded[offset] === rendered[offset]) offset++;
    return {
      ok: false,
      reason: `tokens decode differently from the rendered conversation at character ${offset}: ${JSON.stringify(decoded.slice(offset, offset + 60))} vs ${JSON.stringify(rendered.slice(offset, offset + 60))}`,
    };
  }
  return { ok: true };
}

/** The loss mask is 1 exactly on the turns' sampled spans; logprobs are 0 elsewhere. */
function checkMask(
  sequence: Pick<Trajectory, 'tokens' | 'lossMask' | 'logprobs'>,
  turns: Trajectory['turns'],
): TokenCheck {
  const n = sequence.tokens.length;
  if (sequence.lossMask.length !== n || sequence.logprobs.length !== n)
    return { ok: false, reason: 'tokens, lossMask and logprobs differ in length' };
  const sampled = new Array<0 | 1>(n).fill(0);
  for (const turn of turns) {
    for (let i = turn.sampled.start; i < turn.sampled.end; i++) sampled[i] = 1;
  }
  for (let i = 0; i < n; i++) {
    if (sampled[i] !== sequence.lossMask[i])
      return {
        ok: false,
        reason: `loss mask is ${sequence.lossMask[i]} at token ${i}, but that token ${sampled[i] ? 'was' : 'was not'} sampled`,
      };
    if (!sampled[i] && sequence.logprobs[i] !== 0)
      return { ok: false, reason: `logprob at unsampled token ${i} is not 0` };
  }
  return { ok: true };
}
