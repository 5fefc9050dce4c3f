/**
 * `TinkerPolicy`: a token-mode policy that samples through a Tinker-protocol service's `asample`
 * endpoint from the weights last saved for the sampler (`save_weights_for_sampler`). The tokens and
 * logprobs are the service's own, so trajectories stay exact-token and the agent loop's drift
 * checks apply as with a local engine. The base model's tokenizer and chat template come from a
 * local directory (tokenizer.json + tokenizer_config.json): nothing is downloaded.
 *
 * `policyVersion` goes up by one with each `useSampler(path)`: after every optimiser step the
 * trainer saves the weights for the sampler and hands the path over.
 */
import {
  type GenerateRequest,
  type GenerateResult,
  type Policy,
  readTokenizerDir,
  type Tokenizer,
} from '@toolgym/agents';
import { TinkerApiError, TinkerClient, type TinkerClientSettings } from './tinker-client.ts';
import type { SampleResponseWire } from './tinker-wire.ts';

export interface TinkerPolicySettings extends TinkerClientSettings {
  /** A directory holding the base model's tokenizer.json and tokenizer_config.json. */
  tokenizerDir: string;
}

export class TinkerPolicy implements Policy {
  readonly id: string;
  readonly tokenizer: Tokenizer;
  readonly chatTemplate?: string;
  private readonly client: TinkerClient;
  private readonly eosTokenIds: readonly number[];
  private samplerPath: string | undefined;
  private currentVersion = 0;

  constructor(settings: TinkerPolicySettings) {
    const dir = readTokenizerDir(settings.tokenizerDir);
    this.tokenizer = dir.tokenizer;
    if (dir.chatTemplate !== undefined) this.chatTemplate = dir.chatTemplate;
    this.eosTokenIds = dir.eosTokenIds;
    this.client = new TinkerClient(settings);
    this.id = `tinker:${this.client.base}`;
  }

  get version(): number {
    return this.currentVersion;
  }

  /**
   * Samples from `path` (a save_weights_for_sampler result) from now on: the next policy version,
   * or `version` (a resumed run's).
   */
  useSampler(path: string, options: { version?: number } = {}): number {
    this.samplerPath = path;
    this.currentVersion = options.version ?? this.currentVersion + 1;
    return this.currentVersion;
  }

  async generate(request: GenerateRequest): Promise<GenerateResult> {
    if (!('tokens' in request))
      throw new TinkerApiError(
        'tinker_token_mode_only',
        'a Tinker sampler takes tokens: render the conversation with the base model’s chat template first',
      );
    if (!this.samplerPath)
      throw new TinkerApiError(
        'tinker_no_sampler_weights',
        'no sampler weights yet: save the weights for the sampler and call useSampler(path) first',
      );
    const s = request.sampling;
    if (s.explore)
      throw new TinkerApiError(
        'tinker_unsupported_sampling',
        'sampling.explore (ε-exploration of tokens) needs a local engine; the service samples by itself',
        'remove rl.sampling.exploreToolNames with policy: tinker',
      );
    const version = this.currentVersion;
    // Tinker's `stop` is strings or token ids, not both: strings when the request has them (the service then stops at eos itself).
    const stop = s.stop?.length ? s.stop : s.stopTokenIds?.length ? s.stopTokenIds : [...this.eosTokenIds];
    const out = await this.client.call<SampleResponseWire>('asample', {
      prompt: { chunks: [{ type: 'encoded_text', tokens: Array.from(request.tokens) }] },
      sampling_params: {
        max_tokens: s.maxTokens,
        temperature: s.temperature ?? 1,
        top_p: s.topP ?? 1,
        top_k: s.topK && s.topK > 0 ? s.topK : -1,
        stop,
        ...(s.seed !== undefined ? { seed: s.seed } : {}),
      },
      num_samples: 1,
      model_path: this.samplerPath,
      type: 'sample',
    });
    const seq = out.sequences[0];
    if (!seq?.logprobs || seq.logprobs.length !== seq.tokens.length)
      throw new TinkerApiError(
        'tinker_bad_response',
        `asample answered without a logprob for every sampled token (${seq?.tokens.length ?? 0} tokens)`,
      );
    return {
      text: this.tokenizer.decode(seq.tokens),
      tokens: seq.tokens,
      logprobs: seq.logprobs,
      finishReason: seq.stop_reason === 'length' ? 'length' : 'stop',
      policyVersion: version,
    };
  }
}
