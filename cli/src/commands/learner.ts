import path from 'node:path';
import { BYTE_TOKENIZER_VOCAB_SIZE, type DecoderConfig } from '@toolgym/agents';
import { ConfigError } from '@toolgym/env-kit';
import {
  learnerStateFromTensors,
  modelChat,
  publishWeights,
  readLatestCheckpoint,
  serveLearner,
  type TrainConfig,
} from '@toolgym/trainer';
import type { Command } from 'commander';
import { oneOf, portNumber, positiveInt } from '../flags.ts';
import { closeOnSignal, listening } from '../serving.ts';
import { addListenFlags, type ListenFlags, listenOptionsOf } from './listen-flags.ts';

/** `toolgym learner serve | publish`: the Tinker training API for ToolGym's models (trainer/TINKER.md) and weight publishing. */
export function registerLearnerCommands(program: Command): void {
  const learner = program
    .command('learner')
    .description('The Tinker training API for built-in models, and weight publishing.');

  addListenFlags(
    learner
      .command('serve')
      .description(
        'Serve the Tinker training API for ToolGym models: a config with `learner: { kind: tinker, url: http://host:port }` trains through it.',
      ),
  )
    .option('--host <host>', 'address to bind (anything but loopback needs --token)', '127.0.0.1')
    .option('--port <port>', 'port (0 = any free port)', '8470')
    .option(
      '--token <key>',
      'API key every request must carry (X-API-Key, as Tinker clients send it, or Authorization: Bearer); default $TINKER_API_KEY, the variable Tinker clients and `learner: { kind: tinker }` read',
      process.env.TINKER_API_KEY,
    )
    .option('--state-dir <dir>', 'keep saved checkpoints here; a restarted server still loads them')
    .option('--backend <name>', 'TF.js backend: wasm or cpu', 'wasm')
    .option('--workers <n>', 'learner worker threads (data-parallel above 1)', '1')
    .action(
      async (
        opts: ListenFlags & {
          host: string;
          port: string;
          token?: string;
          stateDir?: string;
          backend: string;
          workers: string;
        },
      ) => {
        const backend = oneOf(opts.backend, ['wasm', 'cpu'], '--backend');
        const address = { host: opts.host, port: portNumber(opts.port, '--port') };
        const server = await listening('--port', address, () =>
          serveLearner({
            ...listenOptionsOf(opts),
            ...address,
            backend,
            workers: positiveInt(opts.workers, '--workers'),
            ...(opts.token ? { token: opts.token } : {}),
            ...(opts.stateDir ? { stateDir: path.resolve(opts.stateDir) } : {}),
          }),
        );
        process.stderr.write(
          `toolgym: learner API at ${server.url}/api/v1${opts.stateDir ? ` (checkpoints in ${path.resolve(opts.stateDir)})` : ' (no --state-dir: a restart loses the checkpoints)'}\n`,
        );
        closeOnSignal(() => server.close());
      },
    );

  learner
    .command('publish <run-dir>')
    .description(
      "Export the newest checkpoint's weights, with the policy version: safetensors (HF GPT-2 layout) and/or ONNX.",
    )
    .option('--out <dir>', 'where v<version>/ goes (default <run-dir>/published)')
    .option('--format <list>', 'safetensors, onnx or both', 'safetensors,onnx')
    .action(async (runDir: string, opts: { out?: string; format: string }) => {
      const formats = opts.format.split(',').map((f) => f.trim());
      for (const format of formats) oneOf(format, ['safetensors', 'onnx'], '--format');
      const checkpoint = await readLatestCheckpoint<{
        config?: TrainConfig;
        decoder: DecoderConfig;
        extraTokens?: string[];
        learnerStep: number;
        policyVersion: number;
      }>(path.join(runDir, 'checkpoints'));
      if (!checkpoint)
        throw new ConfigError(
          `no intact checkpoint in ${path.join(runDir, 'checkpoints')}`,
          'pass the run directory of `toolgym train` (<outDir>/<name>-seed<seed>)',
        );
      const { decoder, extraTokens = [] } = checkpoint.state;
      if (decoder.vocabSize !== BYTE_TOKENIZER_VOCAB_SIZE + extraTokens.length)
        throw new ConfigError(
          `the checkpoint's decoder has ${decoder.vocabSize} tokens but names ${extraTokens.length} beyond the byte tokenizer's ${BYTE_TOKENIZER_VOCAB_SIZE}: its tokenizer cannot be rebuilt`,
          'publish a checkpoint written by this version of `toolgym train` (it records its extra tokens)',
        );
      const chat = checkpoint.state.config && modelChat(checkpoint.state.config.template);
      const { weights } = learnerStateFromTensors(checkpoint.tensors, checkpoint.state.learnerStep);
      const published = await publishWeights({
        dir: path.resolve(opts.out ?? path.join(runDir, 'published')),
        decoder,
        weights,
        policyVersion: checkpoint.state.policyVersion,
        step: checkpoint.state.learnerStep,
        formats: formats as Array<'safetensors' | 'onnx'>,
        extraTokens,
        ...(chat ? { chat } : {}),
      });
      process.stdout.write(
        `published policy version ${published.policyVersion} (${published.formats.join(', ')}) to ${published.dir}\n`,
      );
    });
}
