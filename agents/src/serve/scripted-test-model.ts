/**
 * A real decoder, run by the real engine, whose greedy continuation of one prompt is a chosen reply:
 * every layer's weights are zero, so the residual stream at a position is that position's embedding
 * alone, and the positions after the prompt each point (through the final norm and `lm_head`) at the
 * next token of the reply. Tests use it to make the OpenAI server parse and stream a known reply,
 * tool calls included, through the whole engine.
 */
import { BYTE_TOKENIZER_VOCAB_SIZE } from '../model/byte-tokenizer.ts';
import { type DecoderConfig, decoderWeightShapes } from '../model/decoder-config.ts';
import type { ModelChat } from '../model/model-directory.ts';
import { writeDecoderModelDir } from '../model/write-model-directory.ts';

export async function writeScriptedModel(
  dir: string,
  options: { promptLength: number; reply: readonly number[]; chat?: ModelChat },
): Promise<void> {
  const { promptLength, reply } = options;
  // One dimension per reply position; a multiple of 8 keeps the graph's shapes ordinary.
  const dModel = 8 * Math.ceil((reply.length + 1) / 8);
  const config: DecoderConfig = {
    vocabSize: BYTE_TOKENIZER_VOCAB_SIZE,
    dModel,
    nLayers: 1,
    nHeads: 1,
    dFF: 8,
    maxPositions: promptLength + reply.length + 8,
    layerNormEps: 1e-5,
  };
  const weights = Object.fromEntries(
    Object.entries(decoderWeightShapes(config)).map(([name, shape]) => [
      name,
      new Float32Array(shape.reduce((a, b) => a * b, 1)),
    ]),
  );
  weights['final_norm.weight']!.fill(1);
  // The logits at position p choose the token at p + 1: the last prompt position chooses reply[0].
  reply.forEach((token, k) => {
    const position = promptLength - 1 + k;
    weights['embed.positions']![position * dModel + k] = 1;
    weights['lm_head.weight']![k * config.vocabSize + token] = 10;
  });
  await writeDecoderModelDir(dir, { config, weights, ...(options.chat ? { chat: options.chat } : {}) });
}
