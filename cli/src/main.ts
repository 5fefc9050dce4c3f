import { Command, CommanderError } from 'commander';
import { ToolGymError } from '@toolgym/protocol';
import { registerCommands } from './commands/index.ts';

const program = new Command('toolgym')
  .description('ToolGym: MCP environments, tool-using agents, multi-turn RL.')
  .showHelpAfterError()
  .exitOverride();

await registerCommands(program, process.argv);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) process.exit(error.exitCode);
  if (error instanceof ToolGymError) {
    process.stderr.write(`toolgym: ${error.render()}\n`);
    process.exit(2);
  }
  throw error;
}
