import path from 'node:path';
import { createDefaultModel, OnnxPolicy, serveOpenAiCompatible } from '@toolgym/agents';
import type { Command } from 'commander';
import { oneOf, portNumber, positiveInt, wholeNumber } from '../flags.ts';
import { closeOnSignal, listening } from '../serving.ts';
import { addListenFlags, type ListenFlags, listenOptionsOf } from './listen-flags.ts';

export function registerPolicyCommands(program: Command): void {
  const policy = program.command('policy').description("Create and serve ToolGym's ONNX policy models.");

  policy
    .command('init <dir>')
    .description(
      "Write ToolGym's default small model (seeded random init, byte tokenizer, chat template) into <dir>.",
    )
    .option('--seed <n>', 'seed of the initial weights', '0')
    .action(async (dir: string, opts: { seed: string }) => {
      const { config } = await createDefaultModel(dir, { seed: wholeNumber(opts.seed, '--seed') });
      process.stdout.write(
        `toolgym: wrote ${path.resolve(dir)} (dModel ${config.dModel}, ${config.nLayers} layers, ${config.nHeads} heads, ` +
          `dFF ${config.dFF}, ${config.maxPositions} positions, vocab ${config.vocabSize})\n`,
      );
    });

  addListenFlags(
    policy
      .command('serve')
      .description(
        'Serve a model directory (ToolGym or an exported Hugging Face decoder) as an OpenAI-compatible API.',
      ),
  )
    .requiredOption('--model <dir>', 'model directory: config.json, model.onnx, tokenizer.json, …')
    .option('--port <port>', 'port (0 = any free port)', '8000')
    .option('--host <host>', 'address to bind (anything but loopback needs --token)', '127.0.0.1')
    .option(
      '--token <token>',
      'bearer token clients send as their API key (required off loopback; without one any key is accepted)',
      process.env.TOOLGYM_POLICY_TOKEN,
    )
    .option('--name <name>', 'model name clients pass as `model` (default: the directory name)')
    .option('--execution-provider <ep>', 'auto (CUDA when available, else CPU), cuda or cpu', 'auto')
    .option('--max-batch <n>', 'most sequences generated together', '64')
    .action(
      async (
        opts: ListenFlags & {
          model: string;
          port: string;
          host: string;
          token?: string;
          name?: string;
          executionProvider: string;
          maxBatch: string;
        },
      ) => {
        const executionProvider = oneOf(
          opts.executionProvider,
          ['auto', 'cuda', 'cpu'],
          '--execution-provider',
        );
        const address = { host: opts.host, port: portNumber(opts.port, '--port') };
        const onnx = await OnnxPolicy.create({
          model: opts.model,
          executionProvider,
          maxBatchSize: positiveInt(opts.maxBatch, '--max-batch'),
        });
        const modelName = opts.name ?? path.basename(path.resolve(opts.model));
        const server = await listening('--port', address, () =>
          serveOpenAiCompatible(onnx, {
            ...listenOptionsOf(opts),
            ...address,
            modelName,
            ...(opts.token ? { token: opts.token } : {}),
          }),
        ).catch(async (error: unknown) => {
          await onnx.close();
          throw error;
        });
        const ep = onnx.executionProvider;
        process.stderr.write(`toolgym: execution provider ${ep.provider} (${ep.reason})\n`);
        process.stderr.write(
          `toolgym: serving '${modelName}' (policy version ${onnx.version}) at ${server.url}\n`,
        );
        closeOnSignal(async () => {
          await server.close();
          await onnx.close();
        });
      },
    );
}
