/**
 * `TinkerLearner`: the `Learner` interface over the Tinker training API, the one client for the
 * Tinker service, skyrl-tx and ToolGym's own `learner serve` (trainer/TINKER.md).
 *
 * A model is created on a base model (LoRA with `loraRank` on GPU services; ToolGym's server trains
 * every weight of its built-in models). State lives on the server: `saveState` saves a training
 * checkpoint and returns its `tinker://` path (plus the tensors, where the server lets them be
 * downloaded: ToolGym's); `loadState` and `resetOptimizer` load a checkpoint into a new model, as
 * the Tinker service permits `load_weights` only as a model's first request.
 *
 * Loss options: a server that lists ToolGym's `loss_fn_config` extensions in its capabilities gets
 * them as they are. Any other gets Tinker's own losses: the aggregation becomes a scaling of the
 * weights (cross_entropy) or advantages (ppo, importance_sampling), whose losses Tinker sums over
 * tokens. A loss they cannot express but that is a function of the target logprobs takes Tinker's
 * custom-loss route (`custom-loss.ts`); the rest (they read the whole distribution) are refused by
 * `checkLoss` before the run starts, naming the option and the server.
 */
import { DEFAULT_POLICY_LOSS } from '../algorithms/policy-loss.ts';
import type { LossFnName } from '../algorithms/policy-losses.ts';
import { learnerStateFromTensors } from '../checkpoint/learner-state-tensors.ts';
import { decodeSafetensors } from '../export/safetensors.ts';
import type {
  AdamParams,
  Datum,
  ForwardBackwardOutput,
  Learner,
  LearnerInfo,
  LearnerState,
  LossFnConfig,
  OptimStepOutput,
} from '../learner/learner.ts';
import { customLossGradient, DISTRIBUTION_OPTIONS } from './custom-loss.ts';
import { TinkerApiError, TinkerClient, type TinkerClientSettings } from './tinker-client.ts';
import {
  datumToWire,
  forwardOutputFromWire,
  type GetServerCapabilitiesResponse,
  type LossFnConfigWire,
  lossConfigToWire,
  metricsFromWire,
  parseTinkerPath,
  TINKER_LOSS_FN_CONFIG_KEYS,
  type WireForwardBackwardOutput,
} from './tinker-wire.ts';

export interface TinkerLearnerSettings extends TinkerClientSettings {
  /** The base model: a name the service serves (`Qwen/Qwen3-8B`), or on ToolGym's server a model directory. */
  baseModel: string;
  /** LoRA rank; absent = no lora_config (ToolGym's server, which trains every weight). */
  loraRank?: number;
  /** Seed of the LoRA initialisation. */
  loraSeed?: number;
}

/**
 * How a loss reaches the server: as it is (ToolGym's server), as Tinker's loss with scaled inputs,
 * or by the custom-loss route.
 */
type LossRoute =
  | { kind: 'extended'; wire: LossFnConfigWire }
  | { kind: 'tinker'; wire: LossFnConfigWire; aggregation: string; normLength: number }
  | { kind: 'custom' };

/** Tinker's losses, summed over tokens, are a mean once each token's weight is divided by this. */
function aggregationScale(data: Datum[], aggregation: string, index: number, normLength: number): number[] {
  const w = (d: Datum) => d.lossFnInputs.weights ?? d.modelInput.tokens.map(() => 1);
  if (aggregation === 'token-sum') return w(data[index]!).map(() => 1);
  // Dr. GRPO: the sum over B sequences divided by B · normLength.
  if (aggregation === 'token-sum-norm') return w(data[index]!).map(() => 1 / (data.length * normLength));
  if (aggregation === 'token-mean') {
    const total = data.reduce((s, d) => s + w(d).filter((x) => x > 0).length, 0);
    return w(data[index]!).map(() => 1 / Math.max(total, 1));
  }
  // sequence-mean: each sequence's token-mean, averaged over sequences
  const own = w(data[index]!).filter((x) => x > 0).length;
  const sequences = data.filter((d) => w(d).some((x) => x > 0)).length;
  return w(data[index]!).map(() => 1 / Math.max(own * sequences, 1));
}

/** The input tokens of a batch, as the learner counts `tokens` (Tinker: `unmasked_tokens`). */
const inputTokens = (data: Datum[]) => data.reduce((n, d) => n + d.modelInput.tokens.length, 0);

export class TinkerLearner implements Learner {
  private modelId = '';
  private sessionId = '';
  private nextSeq = 1;
  private saves = 0;
  private step = 0;
  private lastSamplerPath: string | undefined;
  private constructor(
    private readonly settings: TinkerLearnerSettings,
    private readonly client: TinkerClient,
    private readonly capabilities: GetServerCapabilitiesResponse,
  ) {}

  /** Opens a session and creates the model; an unknown base model or a refused key fails here. */
  static async create(settings: TinkerLearnerSettings): Promise<TinkerLearner> {
    const client = new TinkerClient(settings);
    const capabilities = (await client.request(
      'GET',
      'get_server_capabilities',
    )) as GetServerCapabilitiesResponse;
    const names = capabilities.supported_models.map((m) => m.model_name).filter((n): n is string => !!n);
    const modelDir = capabilities.toolgym && settings.baseModel.startsWith('/');
    if (!modelDir && names.length > 0 && !names.includes(settings.baseModel))
      throw new TinkerApiError(
        'tinker_unknown_base_model',
        `${client.base} does not serve base model ${settings.baseModel}`,
        `set learner.baseModel to one it serves: ${names.join(', ')}`,
      );
    const learner = new TinkerLearner(settings, client, capabilities);
    learner.sessionId = (
      (await client.request('POST', 'create_session', {
        tags: ['toolgym'],
        user_metadata: null,
        sdk_version: 'toolgym',
        type: 'create_session',
      })) as { session_id: string }
    ).session_id;
    await learner.createModel();
    return learner;
  }

  /** Whether the server is ToolGym's own (it takes ToolGym's loss options and lets checkpoints be downloaded). */
  get extended(): boolean {
    return this.capabilities.toolgym !== undefined;
  }

  /** The sampler weights of the last `saveWeights` (what `policy: tinker` samples from). */
  get samplerPath(): string | undefined {
    return this.lastSamplerPath;
  }

  private async createModel(): Promise<void> {
    const { baseModel, loraRank, loraSeed } = this.settings;
    const out = await this.client.call<{ model_id: string }>('create_model', {
      session_id: this.sessionId,
      model_seq_id: 0,
      base_model: baseModel,
      ...(loraRank !== undefined
        ? { lora_config: { rank: loraRank, ...(loraSeed !== undefined ? { seed: loraSeed } : {}) } }
        : {}),
      type: 'create_model',
    });
    this.modelId = out.model_id;
    this.nextSeq = 1;
  }

  /**
   * Throws (naming the option and the server) unless the server can compute `lossFn` with these
   * options: call it for every loss a run will use, before it starts.
   */
  checkLoss(lossFn: LossFnName, config: LossFnConfig = {}): void {
    this.route(lossFn, config);
  }

  /** How `lossFn` with `config` reaches this server; throws for what no route computes. */
  private route(lossFn: LossFnName, config: LossFnConfig, data: Datum[] = []): LossRoute {
    const toolgym = this.capabilities.toolgym;
    // Clip-Cov / KL-Cov has no loss_fn_config key: ToolGym's server gets it by the custom-loss route too.
    if (toolgym && config.covControl) return { kind: 'custom' };
    if (toolgym) {
      // The aggregation is always sent: without it a server computes Tinker's sum.
      const wire = lossConfigToWire({ ...config, aggregation: config.aggregation ?? DEFAULT_POLICY_LOSS.aggregation });
      for (const key of Object.keys(wire))
        if (!toolgym.loss_fn_config_keys.includes(key) && !TINKER_LOSS_FN_CONFIG_KEYS.ppo?.includes(key))
          throw new TinkerApiError(
            'tinker_unsupported_loss_option',
            `${this.client.base} does not take loss_fn_config.${key} (it lists ${toolgym.loss_fn_config_keys.join(', ')})`,
            'update the server, or drop that option from the rl section',
          );
      return { kind: 'extended', wire };
    }
    for (const [key, off] of Object.entries(DISTRIBUTION_OPTIONS)) {
      const value = config[key as keyof typeof DISTRIBUTION_OPTIONS];
      if (value !== undefined && value !== off) this.refuse(lossFn, key);
    }
    const tinkerKeys = TINKER_LOSS_FN_CONFIG_KEYS[lossFn];
    const aggregation = config.aggregation ?? DEFAULT_POLICY_LOSS.aggregation;
    // Tinker's losses compute a token-level ratio, with no KL, truncation or covariance control.
    const expressible =
      tinkerKeys !== undefined &&
      (config.ratioLevel ?? 'token') === 'token' &&
      !config.klCoef &&
      config.truncation === undefined &&
      config.covControl === undefined &&
      !data.some((d) => d.lossFnInputs.ref_logprobs);
    if (!expressible) return { kind: 'custom' };
    const wire: LossFnConfigWire = {};
    if (lossFn === 'ppo') {
      const full = lossConfigToWire(config);
      for (const key of tinkerKeys) if (full[key] !== undefined) wire[key] = full[key];
    }
    return { kind: 'tinker', wire, aggregation, normLength: config.normLength ?? DEFAULT_POLICY_LOSS.normLength };
  }

  /** An option only the whole next-token distribution can compute, on a server without ToolGym's extensions. */
  private refuse(lossFn: LossFnName, key: string): never {
    throw new TinkerApiError(
      'tinker_unsupported_loss_option',
      `${this.client.base} cannot compute ${lossFn} with ${key}: it needs the whole next-token distribution, which neither Tinker's losses nor its custom-loss route (a function of the target logprobs) can read`,
      `drop ${key} from the rl section (its default is off), or train on \`toolgym learner serve\`, which computes ToolGym's own losses`,
    );
  }

  private wireData(lossFn: LossFnName, data: Datum[], route: LossRoute) {
    if (route.kind !== 'tinker') return data.map(datumToWire);
    return data.map((d, i) => {
      const scale = aggregationScale(data, route.aggregation, i, route.normLength);
      const weights = d.lossFnInputs.weights ?? d.modelInput.tokens.map(() => 1);
      if (lossFn === 'cross_entropy')
        return datumToWire({
          ...d,
          lossFnInputs: { ...d.lossFnInputs, weights: weights.map((w, t) => w * scale[t]!) },
        });
      // Tinker's policy losses read no weights: a masked token gets no advantage instead.
      const { weights: _, ...rest } = d.lossFnInputs;
      const advantages = (rest.advantages ?? weights.map(() => 0)).map((a, t) => a * weights[t]! * scale[t]!);
      return datumToWire({ ...d, lossFnInputs: { ...rest, advantages } });
    });
  }

  private sequenced<T>(endpoint: string, body: Record<string, unknown>): Promise<T> {
    return this.client.call<T>(endpoint, { model_id: this.modelId, seq_id: this.nextSeq++, ...body });
  }

  async info(): Promise<LearnerInfo> {
    const i = (await this.client.request('POST', 'get_info', {
      model_id: this.modelId,
      type: 'get_info',
    })) as {
      model_name?: string;
      lora_rank?: number | null;
    };
    return {
      backend: `tinker:${this.client.base} ${i.model_name ?? this.settings.baseModel}${i.lora_rank ? ` (LoRA ${i.lora_rank})` : ''}`,
      parameters: 0,
      step: this.step,
    };
  }

  forward(data: Datum[], lossFn: LossFnName = 'cross_entropy', config: LossFnConfig = {}) {
    return this.pass('forward', 'forward_input', data, lossFn, config);
  }

  forwardBackward(data: Datum[], lossFn: LossFnName, config: LossFnConfig = {}) {
    return this.pass('forward_backward', 'forward_backward_input', data, lossFn, config);
  }

  private async pass(
    endpoint: 'forward' | 'forward_backward',
    field: 'forward_input' | 'forward_backward_input',
    data: Datum[],
    lossFn: LossFnName,
    config: LossFnConfig,
  ): Promise<ForwardBackwardOutput> {
    const route = this.route(lossFn, config, data);
    if (route.kind === 'custom') return this.customPass(endpoint, data, lossFn, config);
    const out = await this.sequenced<WireForwardBackwardOutput>(endpoint, {
      [field]: {
        data: this.wireData(lossFn, data, route),
        loss_fn: lossFn,
        loss_fn_config: route.wire,
      },
    });
    const result = forwardOutputFromWire(out);
    // A server that reports no token count: it is the data's.
    return { ...result, metrics: { tokens: inputTokens(data), ...result.metrics } };
  }

  /**
   * The SDK's `forward_backward_custom`: `forward` for the target logprobs, L and ∂L/∂logp here,
   * then `cross_entropy` with weights −∂L/∂logp (a Tinker loss without `aggregation` is a sum).
   */
  private async customPass(
    endpoint: 'forward' | 'forward_backward',
    data: Datum[],
    lossFn: LossFnName,
    config: LossFnConfig,
  ): Promise<ForwardBackwardOutput> {
    const targets = (d: Datum, weights?: number[]) =>
      datumToWire({ modelInput: d.modelInput, lossFnInputs: { target_tokens: d.lossFnInputs.target_tokens, ...(weights ? { weights } : {}) } });
    const forward = forwardOutputFromWire(
      await this.sequenced<WireForwardBackwardOutput>('forward', {
        forward_input: { data: data.map((d) => targets(d, d.lossFnInputs.weights)), loss_fn: 'cross_entropy', loss_fn_config: {} },
      }),
    );
    const logprobs = forward.lossFnOutputs.map((o) => o.logprobs);
    const custom = await customLossGradient(data, logprobs, lossFn, config);
    const metrics = { loss: custom.loss, tokens: inputTokens(data), ...custom.metrics };
    if (endpoint === 'forward') return { lossFnOutputs: forward.lossFnOutputs, metrics };
    await this.sequenced<WireForwardBackwardOutput>('forward_backward', {
      forward_backward_input: {
        data: data.map((d, i) => targets(d, custom.gradients[i]!.map((g) => -g))),
        loss_fn: 'cross_entropy',
        loss_fn_config: {},
      },
    });
    return { lossFnOutputs: forward.lossFnOutputs, metrics };
  }

  /** Every Adam parameter is sent: Tinker's defaults (eps 1e-12, no clipping) are not the embedded learner's. */
  async optimStep(adam: AdamParams): Promise<OptimStepOutput> {
    const out = await this.sequenced<{ metrics?: Record<string, number> | null }>('optim_step', {
      adam_params: {
        learning_rate: adam.learningRate,
        beta1: adam.beta1 ?? 0.9,
        beta2: adam.beta2 ?? 0.95,
        eps: adam.eps ?? 1e-8,
        weight_decay: adam.weightDecay ?? 0,
        grad_clip_norm: adam.gradClipNorm ?? 1,
      },
      type: 'optim_step',
    });
    this.step++;
    const m = metricsFromWire(out.metrics);
    return {
      metrics: {
        grad_norm: m.grad_norm ?? Number.NaN,
        learning_rate: m.learning_rate ?? adam.learningRate,
        step: m.step ?? this.step,
        clipped: m.clipped ?? 0,
      },
    };
  }

  /** Saves the weights for the sampler (`samplerPath`) and, from ToolGym's server, downloads them. */
  async saveWeights() {
    const path = await this.saveForSampler();
    const state = await this.downloadState(path);
    return { weights: state.weights, step: state.step };
  }

  /** `save_weights_for_sampler`: the path `asample` takes as `model_path`. */
  async saveForSampler(): Promise<string> {
    const out = await this.sequenced<{ path: string }>('save_weights_for_sampler', {
      path: `sampler-${++this.saves}`,
      type: 'save_weights_for_sampler',
    });
    this.lastSamplerPath = out.path;
    return out.path;
  }

  async loadWeights(): Promise<void> {
    throw new TinkerApiError(
      'tinker_unsupported',
      'the Tinker API takes no weights from the client: load a checkpoint path (loadState) instead',
    );
  }

  /** A training checkpoint on the server: its path, and its tensors where the server lets them be read. */
  async saveState(): Promise<LearnerState> {
    const out = await this.sequenced<{ path: string }>('save_weights', {
      path: `state-${++this.saves}`,
      type: 'save_weights',
    });
    if (!this.extended) return { step: this.step, weights: {}, adamM: {}, adamV: {}, path: out.path };
    return { ...(await this.downloadState(out.path)), path: out.path };
  }

  /** Continues from a checkpoint `saveState` made: a new model, `load_weights` with the optimiser. */
  async loadState(state: LearnerState): Promise<void> {
    if (!state.path)
      throw new TinkerApiError(
        'tinker_unsupported',
        'this state has no tinker:// path: a Tinker-protocol learner resumes only from checkpoints saved through the service',
        'resume the run with the learner it was trained with',
      );
    await this.loadInto(state.path, true);
    this.step = state.step;
  }

  /** A fresh Adam from the current weights: they are saved, and loaded without optimiser state into a new model. */
  async resetOptimizer(): Promise<void> {
    const out = await this.sequenced<{ path: string }>('save_weights', {
      path: `state-${++this.saves}`,
      type: 'save_weights',
    });
    await this.loadInto(out.path, false);
    this.step = 0;
  }

  private async loadInto(path: string, optimizer: boolean): Promise<void> {
    const old = this.modelId;
    await this.createModel();
    await this.sequenced('load_weights', { path, optimizer, type: 'load_weights' });
    if (old) await this.unload(old);
  }

  private async unload(modelId: string): Promise<void> {
    await this.client.call('unload_model', { model_id: modelId, type: 'unload_model' });
  }

  async close(): Promise<void> {
    if (this.modelId) await this.unload(this.modelId);
    this.modelId = '';
  }

  private async downloadState(path: string): Promise<LearnerState> {
    const p = parseTinkerPath(path);
    if (!p || !this.extended)
      throw new TinkerApiError(
        'tinker_unsupported',
        `${this.client.base} keeps ${path} on the service: ToolGym cannot read its weights`,
        'sample through the service (policy: tinker) instead of ToolGym’s own sampler',
      );
    const bytes = await this.client.download(
      `training_runs/${p.modelId}/checkpoints/${p.kind}/${p.name}/archive`,
    );
    const decoded = decodeSafetensors(bytes, path);
    return learnerStateFromTensors(decoded.tensors, Number(decoded.metadata.step));
  }
}
