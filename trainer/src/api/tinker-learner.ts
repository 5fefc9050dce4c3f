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
 * tokens, and every option Tinker's losses cannot express is refused by `checkLoss` before the run
 * starts, naming the option and the server.
 */
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
import { TinkerApiError, TinkerClient, type TinkerClientSettings } from './tinker-client.ts';
import {
  datumToWire,
  forwardOutputFromWire,
  type GetServerCapabilitiesResponse,
  type LossFnConfigWire,
  lossConfigToWire,
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

/** Tinker's losses, summed over tokens, are a mean once each token's weight is divided by this. */
function aggregationScale(data: Datum[], aggregation: string, index: number): number[] {
  const w = (d: Datum) => d.lossFnInputs.weights ?? d.modelInput.tokens.map(() => 1);
  if (aggregation === 'token-sum') return w(data[index]!).map(() => 1);
  if (aggregation === 'token-mean') {
    const total = data.reduce((s, d) => s + w(d).filter((x) => x > 0).length, 0);
    return w(data[index]!).map(() => 1 / Math.max(total, 1));
  }
  // sequence-mean: each sequence's token-mean, averaged over sequences
  const own = w(data[index]!).filter((x) => x > 0).length;
  const sequences = data.filter((d) => w(d).some((x) => x > 0)).length;
  return w(data[index]!).map(() => 1 / Math.max(own * sequences, 1));
}

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
    this.standardLoss(lossFn, config);
  }

  /** The `loss_fn_config` the server gets, and how the per-token inputs are scaled for it. */
  private standardLoss(
    lossFn: LossFnName,
    config: LossFnConfig,
  ): { wire: LossFnConfigWire; aggregation?: string } {
    const wire = lossConfigToWire(config);
    const toolgym = this.capabilities.toolgym;
    if (toolgym) {
      for (const key of Object.keys(wire))
        if (!toolgym.loss_fn_config_keys.includes(key) && !TINKER_LOSS_FN_CONFIG_KEYS.ppo?.includes(key))
          this.refuse(lossFn, key);
      return { wire };
    }
    const tinkerKeys = TINKER_LOSS_FN_CONFIG_KEYS[lossFn];
    if (!tinkerKeys)
      throw new TinkerApiError(
        'tinker_unsupported_loss',
        `${this.client.base} has no ${lossFn} loss: Tinker's losses are ${Object.keys(TINKER_LOSS_FN_CONFIG_KEYS).join(', ')}`,
        'train this recipe on `toolgym learner serve`, which computes ToolGym\'s own losses, or on the embedded learner',
      );
    const out: LossFnConfigWire = {};
    // What Tinker's losses already do (or what a scaling of their inputs does) is dropped; the rest refused.
    const implicit: Record<string, (v: number) => boolean> = {
      ratio_level: (v) => v === 0,
      entropy_coef: (v) => v === 0,
      entropy_top_fraction: (v) => v === 1,
      temperature: (v) => v === 1,
      norm_length: () => config.aggregation !== 'token-sum-norm',
      aggregation: (v) => v !== 3,
    };
    for (const [key, value] of Object.entries(wire)) {
      if (tinkerKeys.includes(key)) out[key] = value;
      else if ((key === 'clip_low_threshold' || key === 'clip_high_threshold') && lossFn !== 'ppo') continue;
      else if (!implicit[key]?.(value)) this.refuse(lossFn, key);
    }
    return { wire: out, aggregation: config.aggregation ?? 'token-mean' };
  }

  private refuse(lossFn: LossFnName, key: string): never {
    throw new TinkerApiError(
      'tinker_unsupported_loss_option',
      `${this.client.base} cannot compute ${lossFn} with loss_fn_config.${key}: Tinker's ${lossFn} takes ${TINKER_LOSS_FN_CONFIG_KEYS[lossFn]?.join(', ') || 'no options'}`,
      'drop that option from the rl section (its default is what Tinker computes), or train on `toolgym learner serve`',
    );
  }

  private wireData(lossFn: LossFnName, data: Datum[], aggregation: string | undefined) {
    if (aggregation === undefined) return data.map(datumToWire);
    return data.map((d, i) => {
      if (d.lossFnInputs.ref_logprobs)
        throw new TinkerApiError(
          'tinker_unsupported_loss_option',
          `${this.client.base}: loss_fn_inputs.ref_logprobs (a KL term) is ToolGym's; Tinker's losses have none`,
          'set rl.kl.coef to 0',
        );
      const scale = aggregationScale(data, aggregation, i);
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
    const { wire, aggregation } = this.standardLoss(lossFn, config);
    const out = await this.sequenced<WireForwardBackwardOutput>(endpoint, {
      [field]: { data: this.wireData(lossFn, data, aggregation), loss_fn: lossFn, loss_fn_config: wire },
    });
    return forwardOutputFromWire(out);
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
    const m = out.metrics ?? {};
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
