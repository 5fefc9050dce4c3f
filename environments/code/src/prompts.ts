import { SOLUTION_FILE } from './task-types.ts';

/** The prompt of a write-a-function task: what to write, the public tests, how to work. */
export function functionPrompt(description: string, entryPoint: string, publicTests: string[]): string {
  const examples = publicTests.length > 0 ? `\n\nExamples (public tests):\n${publicTests.join('\n')}` : '';
  return `${description}${examples}\n\nWrite the function \`${entryPoint}\` in ${SOLUTION_FILE} with write_file, check it with run_tests (you may also experiment with run_python), then call submit. Hidden tests decide the reward.`;
}

/** The prompt of a math question answered with the Python tool. */
export function interpreterPrompt(question: string): string {
  return `${question}\n\nYou can run Python with run_python. When you know the answer, call submit with answer set to the integer alone.`;
}
