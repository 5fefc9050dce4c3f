export { type DecoderConfig, type DecoderWeights, decoderWeightShapes } from './model/decoder-config.ts';
export { initDecoderWeights } from './model/init-weights.ts';
export { DEFAULT_DECODER_CONFIG, writeDecoderModelDir, createDefaultModel } from './model/model-directory.ts';
export { referenceForward } from './model/reference-forward.ts';
export { BYTE_TOKENIZER_VOCAB_SIZE, BYTE_TOKENIZER_SPECIAL_TOKENS, byteTokenizerId } from './model/byte-tokenizer.ts';
export { OnnxPolicy, createOnnxPolicy, type OnnxPolicySettings } from './onnx/onnx-policy.ts';
export type { Policy, GenerateRequest, GenerateResult, SamplingParams } from './policy.ts';
export type { Tokenizer } from './tokenizer.ts';
export type { RolloutSink } from './rollout-sink.ts';
