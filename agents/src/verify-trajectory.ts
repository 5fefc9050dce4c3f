import type { ToolSpec, Trajectory } from '@toolgym/protocol';
import type { ChatTemplate } from './chat/chat-template.ts';
import type { Tokenizer } from './tokenizer.ts';

export type TokenCheck = { ok: true } | { ok: false; reason: string };

/**
 * Checks an exact-token trajectory against its own record: the tokens decode to the template's
 * render of its messages, the loss mask is 1 exactly on the sampled spans, and logprobs are 0
 * elsewhere. The trainer can run it before training on data from elsewhere.
 */
export function verifyTrajectoryTokens(
  trajectory: Trajectory,
  tokenizer: Tokenizer,
  template: ChatTemplate,
  tools: readonly ToolSpec[],
): TokenCheck {
  if (trajectory.tokenization !== 'exact')
    return { ok: false, reason: 'the trajectory is text-only (the engine gave no token ids)' };
  const n = trajectory.tokens.length;
  if (trajectory.lossMask.length !== n || trajectory.logprobs.length !== n)
    return { ok: false, reason: 'tokens, lossMask and logprobs differ in length' };
  const sampled = new Array<0 | 1>(n).fill(0);
  for (const turn of trajectory.turns) {
    for (let i = turn.sampled.start; i < turn.sampled.end; i++) sampled[i] = 1;
  }
  for (let i = 0; i < n; i++) {
    if (sampled[i] !== trajectory.lossMask[i])
      return {
        ok: false,
        reason: `loss mask is ${trajectory.lossMask[i]} at token ${i}, but that token ${sampled[i] ? 'was' : 'was not'} sampled`,
      };
    if (!sampled[i] && trajectory.logprobs[i] !== 0)
      return { ok: false, reason: `logprob at unsampled token ${i} is not 0` };
  }
  const decoded = tokenizer.decode(trajectory.tokens);
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
