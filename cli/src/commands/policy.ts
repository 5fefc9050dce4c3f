import path from 'node:path';
import { createDefaultModel, OnnxPolicy, serveOpenAiCompatible } from '@toolgym/agents';
import { ToolGymError } from '@toolgym/protocol';
import type { Command } from 'commander';
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
      const { config } = await createDefaultModel(dir, { seed: Number(opts.seed) });
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
        if (!['auto', 'cuda', 'cpu'].includes(opts.executionProvider)) {
          throw new ToolGymError(
            'policy-cli',
            `--execution-provider must be auto, cuda or cpu, got '${opts.executionProvider}'`,
          );
        }
        const onnx = await OnnxPolicy.create({
          model: opts.model,
          executionProvider: opts.executionProvider as 'auto' | 'cuda' | 'cpu',
          maxBatchSize: Number(opts.maxBatch),
        });
        const modelName = opts.name ?? path.basename(path.resolve(opts.model));
        const server = await serveOpenAiCompatible(onnx, {
          ...listenOptionsOf(opts),
          port: Number(opts.port),
          host: opts.host,
          modelName,
          ...(opts.token ? { token: opts.token } : {}),
        }).catch(async (error: unknown) => {
          await onnx.close();
          throw error;
        });
        const ep = onnx.executionProvider;
        process.stderr.write(`toolgym: execution provider ${ep.provider} (${ep.reason})\n`);
        process.stderr.write(
          `toolgym: serving '${modelName}' (policy version ${onnx.version}) at ${server.url}\n`,
        );
        const stop = async () => {
          await server.close();
          await onnx.close();
          process.exit(0);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      },
    );
}
