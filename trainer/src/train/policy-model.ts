/**
 * The policy's model: the chat layout it is trained in, the weights it starts from, and the
 * environment pretraining plays (which must offer the same tools: they are the policy's tokens).
 */
import {
  ChatTemplate,
  compactChatTemplate,
  type DecoderConfig,
  type DecoderWeights,
  type ModelChat,
  readDecoderModelDir,
  readModelDir,
  recordedToolCalls,
  type ToolCallFormat,
} from '@toolgym/agents';
import type { Environment } from '@toolgym/env-kit';
import { type TrainConfig, TrainConfigError } from './config.ts';

/** The chat template and tool-call format of a model's recorded layout (none: the policy's own, Hermes). */
export function chatLayout(
  chat: ModelChat | undefined,
  tools: ReturnType<Environment['toolSpecs']['slice']>,
): { template?: ChatTemplate; toolFormat?: ToolCallFormat } {
  if (!chat) return {};
  return {
    template: new ChatTemplate(chat.template, {}, 'compact'),
    toolFormat: recordedToolCalls(chat.toolCalls, tools),
  };
}

/**
 * The chat layout a model trained with `template` records in its model directory (the chat template
 * and the tool-call format), so `toolgym eval --policy onnx:<dir>` plays it as trained; none for Hermes.
 */
export function modelChat(template: TrainConfig['template']): ModelChat | undefined {
  if (template.kind === 'hermes') return undefined;
  return { template: compactChatTemplate({ dropFromPrompt: template.dropFromPrompt }), toolCalls: 'compact' };
}

/** The environment pretraining plays, checked to offer `environment`'s tools (the policy's tool tokens). */
export function pretrainEnvironmentOf(
  environment: Environment,
  pretrain: Environment | undefined,
): Environment {
  if (!pretrain)
    throw new TrainConfigError(
      'the config has a pretrain section: pass pretrainEnvironment, the environment made with pretrain.options merged over environment.options',
    );
  const names = (e: Environment) => e.toolSpecs.map((t) => t.name).join(', ');
  if (names(pretrain) !== names(environment))
    throw new TrainConfigError(
      `pretrain.options change the environment's tools (${names(pretrain)} instead of ${names(environment)}); pretraining must offer the same tools, which are the policy's`,
    );
  return pretrain;
}

/** Weights of a model directory whose decoder and extra tokens equal the run's (else a config error naming the difference). */
export async function weightsFrom(
  dir: string,
  decoder: DecoderConfig,
  extraTokens: readonly string[],
): Promise<DecoderWeights> {
  const model = await readDecoderModelDir(dir);
  const theirs = JSON.stringify(model.config);
  if (theirs !== JSON.stringify(decoder))
    throw new TrainConfigError(
      `policy.initFrom: ${dir} holds a decoder ${theirs}, but the config asks for ${JSON.stringify(decoder)}; set policy.model (and template.toolTokens) to match it`,
    );
  const tokens = readModelDir(dir).toolgym?.extraTokens ?? [];
  if (JSON.stringify(tokens) !== JSON.stringify(extraTokens))
    throw new TrainConfigError(
      `policy.initFrom: ${dir} has extra tokens ${JSON.stringify(tokens)}, the run ${JSON.stringify(extraTokens)}; match template.toolTokens and the environment`,
    );
  return model.weights;
}
