import type { ToolCall } from '@toolgym/protocol';
import { hashString, Rng } from '@toolgym/protocol';
import { hermesToolCalls } from '../chat/hermes-tool-calls.ts';
import type { ToolCallFormat } from '../chat/tool-call-format.ts';
import { PolicyError, PolicySpecError } from '../errors.ts';
import { encodePieces } from '../piece-encoder.ts';
import type { EpisodeBinding, GenerateRequest, GenerateResult, Policy, PolicyScheme } from '../policy.ts';
import type { Tokenizer } from '../tokenizer.ts';
import { randomValue } from './random-arguments.ts';

export interface ScriptedPolicySettings {
  /**
   * How the calls are written: a text format (Hermes by default), or `native` to return them as
   * structured calls the way an OpenAI-compatible engine with a tool parser does.
   */
  toolFormat?: ToolCallFormat | 'native';
  /**
   * With a tokenizer the policy works in token mode: its "sampled" tokens are the encoding of the
   * text it writes plus the end-of-turn token, so it yields exact-token trajectories (warm-up data,
   * tests of the token path). Without one it works on messages.
   */
  tokenizer?: Tokenizer;
}

/** Distinct texts a scripted policy keeps the ids of before it starts again empty. */
const WRITTEN_ENTRIES = 4_096;

/** Picks the calls of each turn, given the episode. */
type CallScript = (
  binding: EpisodeBinding,
) => Promise<(turn: number) => Array<Pick<ToolCall, 'name' | 'arguments'>>>;

/**
 * A policy that writes predetermined calls instead of sampling: what the oracle and random
 * baselines share. One call per turn; after the script runs out it ends its turn without a call.
 */
function createScriptedPolicy(id: string, script: CallScript, settings: ScriptedPolicySettings): Policy {
  const format = settings.toolFormat ?? hermesToolCalls;
  const tokenizer = settings.tokenizer;
  const written = new Map<string, { tokens: number[]; logprobs: number[] }>();
  const unbound: Policy = {
    id,
    version: 0,
    ...(tokenizer ? { tokenizer } : {}),
    generate: () => {
      throw new PolicyError(`the ${id} policy plays through the agent loop only (it needs the episode)`);
    },
    async bindEpisode(binding) {
      const callsFor = await script(binding);
      let turn = 0;
      return {
        id,
        version: 0,
        ...(tokenizer ? { tokenizer } : {}),
        generate: async (request: GenerateRequest) => respond(callsFor(turn++), request),
      };
    },
  };

  function respond(
    calls: Array<Pick<ToolCall, 'name' | 'arguments'>>,
    request: GenerateRequest,
  ): GenerateResult {
    const done = calls.length === 0;
    const native = format === 'native';
    const text = done ? 'Done.' : native ? '' : format.render(calls);
    const result: GenerateResult = { text, finishReason: 'stop', policyVersion: 0 };
    if (native && !done) result.toolCalls = calls.map((c, i) => ({ id: `${id}-${i}`, ...c }));
    if (tokenizer && 'tokens' in request) {
      const sample = sampledAs(tokenizer, text);
      result.tokens = sample.tokens;
      result.logprobs = sample.logprobs;
    }
    return result;
  }

  /**
   * The ids of `text` plus the end-of-turn token, tokenized once per distinct text and policy: an
   * engine samples ids and pays no tokenizer for what it writes, so neither does this stand-in for
   * one (the members of a group write the same turns). The loop only reads a result's arrays.
   */
  function sampledAs(tokenizer: Tokenizer, text: string): { tokens: number[]; logprobs: number[] } {
    let sample = written.get(text);
    if (sample === undefined) {
      const endOfTurn = tokenizer.specialTokens.get('<|im_end|>') ?? tokenizer.eosTokenIds[0];
      if (endOfTurn === undefined)
        throw new PolicyError(`the tokenizer of the ${id} policy has no end-of-turn token`);
      const tokens = [...encodePieces(tokenizer, text), endOfTurn];
      sample = { tokens, logprobs: new Array<number>(tokens.length).fill(0) };
      if (written.size >= WRITTEN_ENTRIES) written.clear();
      written.set(text, sample);
    }
    return sample;
  }

  return unbound;
}

/**
 * `oracle`: solves the task with the environment's scripted solution (`toolgym/episode/oracle`,
 * built from the task's gold answer), one call per turn. An environment without an oracle makes
 * the episode fail with the environment's `no_oracle` reason.
 */
export function createOraclePolicy(settings: ScriptedPolicySettings = {}): Policy {
  return createScriptedPolicy(
    'oracle',
    async (binding) => {
      const { calls } = await binding.oracle();
      return (turn) => (turn < calls.length ? [calls[turn]!] : []);
    },
    settings,
  );
}

/**
 * `random`: each turn calls a random tool with random arguments that satisfy its JSON Schema,
 * seeded by the episode (same task and seed → same calls). A lower baseline; it finishes only by
 * stumbling on an answer tool or hitting the turn limit.
 */
export function createRandomPolicy(settings: ScriptedPolicySettings = {}): Policy {
  return createScriptedPolicy(
    'random',
    async (binding) => {
      const rng = new Rng(hashString(`random:${binding.task.id}:${binding.seed}`));
      return () => {
        if (binding.tools.length === 0) return [];
        const tool = rng.pick(binding.tools);
        return [
          { name: tool.name, arguments: randomValue(tool.inputSchema, rng) as Record<string, unknown> },
        ];
      };
    },
    settings,
  );
}

function scriptedScheme(name: string, create: (settings: ScriptedPolicySettings) => Policy): PolicyScheme {
  return {
    usage: name,
    async create(target, context) {
      if (target !== '')
        throw new PolicySpecError(
          `the ${name} policy takes no target (got '${name}:${target}')`,
          `write just '${name}'`,
        );
      return create({ toolFormat: context.toolFormat });
    },
  };
}

export const oraclePolicyScheme = scriptedScheme('oracle', createOraclePolicy);
export const randomPolicyScheme = scriptedScheme('random', createRandomPolicy);
