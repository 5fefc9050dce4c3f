import { Command, CommanderError } from 'commander';
import { ToolGymError } from '@toolgym/protocol';
import { registerCommands } from './commands/index.ts';

/** Exit code of a user's mistake (a bad flag, file or config); 1 stays for failures of ToolGym itself. */
const USAGE_EXIT_CODE = 2;

const program = new Command('toolgym')
  .description('ToolGym: MCP environments, tool-using agents, multi-turn RL.')
  .showHelpAfterError('(add --help for usage)')
  .exitOverride();

await registerCommands(program, process.argv);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  // Commander has printed its own message; --help and --version end with code 0.
  if (error instanceof CommanderError) process.exit(error.exitCode === 0 ? 0 : USAGE_EXIT_CODE);
  if (error instanceof ToolGymError) {
    process.stderr.write(`toolgym: ${error.render()}\n  (${error.code})\n`);
    process.exit(USAGE_EXIT_CODE);
  }
  throw error;
}
