import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const read = (name: string) => readFileSync(new URL(`./${name}`, import.meta.url), 'utf8');

/** The host's Python, which runs the grader (and computes the generated tasks' expected outputs). */
export const HOST_PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

/** The grader's script: it runs on the host and never runs candidate code. */
export const GRADER_SCRIPT = fileURLToPath(new URL('./grader.py', import.meta.url));

/** What a cached test check depends on: the grader and its plain-data codec. */
export const GRADER_SOURCE = `${read('grader.py')}\n${read('plain_data.py')}`;

/** The program the candidate runs in the sandbox (given with `python3 -c`): the plain-data codec, then the candidate loop. */
export const CANDIDATE_SOURCE = `${read('plain_data.py')}\n${read('candidate.py')}`;
