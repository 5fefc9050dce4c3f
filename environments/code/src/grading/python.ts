import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The host's Python, which runs the grader (and computes the generated tasks' expected outputs). */
export const HOST_PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

/** The grader's script: it runs on the host and never runs candidate code. */
export const GRADER_SCRIPT = fileURLToPath(new URL('./grader.py', import.meta.url));
export const GRADER_SOURCE = readFileSync(GRADER_SCRIPT, 'utf8');

/** The program the candidate runs in the sandbox (given with `python3 -c`). */
export const CANDIDATE_SOURCE = readFileSync(new URL('./candidate.py', import.meta.url), 'utf8');
