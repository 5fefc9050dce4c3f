/**
 * The `onnx:<modelDir>` policy spec. Options (`--policy-option key=value`): executionProvider
 * (auto|cuda|cpu), maxBatchSize, kvCache (auto|in-place|present|off), threads.
 */

import { PolicySpecError } from '../errors.ts';
import type { PolicyScheme } from '../policy.ts';
import type { ExecutionProviderPreference } from './execution-provider.ts';
import { type KvCacheMode, OnnxPolicy } from './onnx-policy.ts';

export const onnxPolicyScheme: PolicyScheme = {
  usage: 'onnx:<modelDir>',
  async create(target, context) {
    if (!target)
      throw new PolicySpecError(
        "the onnx policy needs a model directory: 'onnx:<modelDir>'",
        'create one with `toolgym policy init <dir>`',
      );
    const { executionProvider, maxBatchSize, kvCache, threads } = context.options;
    if (executionProvider !== undefined && !['auto', 'cuda', 'cpu'].includes(executionProvider)) {
      throw new PolicySpecError(
        `onnx policy option executionProvider must be auto, cuda or cpu, got '${executionProvider}'`,
      );
    }
    return OnnxPolicy.create({
      model: target,
      ...(executionProvider ? { executionProvider: executionProvider as ExecutionProviderPreference } : {}),
      ...(maxBatchSize ? { maxBatchSize: Number(maxBatchSize) } : {}),
      ...(kvCache ? { kvCache: kvCache as KvCacheMode } : {}),
      ...(threads ? { threads: Number(threads) } : {}),
    });
  },
};
