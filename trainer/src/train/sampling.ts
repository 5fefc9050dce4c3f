/** The sampling settings of the run's requests: stop ids, and ε-exploration over tool-name tokens. */
import { type SamplingParams, TOOL_CALL_OPEN, type Tokenizer } from '@toolgym/agents';
import { type TrainConfig, TrainConfigError } from './config.ts';

/** What every request of the run shares: stop ids, and the tool-name tokens that exploration picks from. */
export interface SamplingContext {
  stopTokenIds: number[];
  toolNameIds: number[];
  callOpenId: number;
}

export function samplingContext(
  policy: { tokenizer: Tokenizer },
  extraTokens: readonly string[],
): SamplingContext {
  const single = (text: string) => {
    const ids = policy.tokenizer.encode(text);
    if (ids.length !== 1)
      throw new TrainConfigError(
        `'${text}' is not one token of the policy's tokenizer`,
        'name only tokens the tokenizer has as single tokens (template.toolTokens adds tool names)',
      );
    return ids[0]!;
  };
  return {
    stopTokenIds: [...policy.tokenizer.eosTokenIds],
    toolNameIds: extraTokens.map(single),
    callOpenId: single(TOOL_CALL_OPEN),
  };
}

/** A config section's sampling (`rl.sampling`, `eval.sampling`) as request parameters. */
export function samplingOf(s: TrainConfig['rl']['sampling'], context: SamplingContext): SamplingParams {
  return {
    temperature: s.temperature,
    maxTokens: s.maxTokens,
    stopTokenIds: context.stopTokenIds,
    ...(s.exploreToolNames > 0
      ? {
          explore: {
            epsilon: s.exploreToolNames,
            tokenIds: context.toolNameIds,
            afterTokenIds: [context.callOpenId],
            among: s.exploreAmong,
            fromDecision: s.exploreFromCall,
          },
        }
      : {}),
  };
}
