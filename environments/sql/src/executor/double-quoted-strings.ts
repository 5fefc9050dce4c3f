import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '@toolgym/env-kit';
import { GENERATED_DIR } from '../databases/sqlite-file.ts';

const SOURCE = fileURLToPath(new URL('../../native/double-quoted-strings.c', import.meta.url));

let built: string | undefined;

/**
 * The shared library of `native/double-quoted-strings.c`, compiled on first use against the
 * SQLite headers better-sqlite3 ships and cached in `data/generated/` by the hash of the source
 * and the headers. A query process loads it into a connection that must read double-quoted
 * string literals the way Spider's and BIRD's evaluators do (see the C file).
 */
export function doubleQuotedStringsExtension(): string {
  if (built) return built;
  const headers = path.join(
    path.dirname(createRequire(import.meta.url).resolve('better-sqlite3/package.json')),
    'deps',
    'sqlite3',
  );
  if (!existsSync(path.join(headers, 'sqlite3ext.h')))
    throw new ConfigError(
      `better-sqlite3 ships no SQLite headers at ${headers}`,
      'reinstall better-sqlite3 from the npm registry',
    );
  const hash = createHash('sha256')
    .update(readFileSync(SOURCE))
    .update(readFileSync(path.join(headers, 'sqlite3.h')))
    .digest('hex')
    .slice(0, 16);
  const file = path.join(
    GENERATED_DIR,
    `double-quoted-strings-${hash}${process.platform === 'darwin' ? '.dylib' : '.so'}`,
  );
  if (!existsSync(file)) {
    mkdirSync(GENERATED_DIR, { recursive: true });
    const temporary = `${file}.${process.pid}.tmp`;
    const compiler = process.env.CC ?? 'cc';
    try {
      execFileSync(compiler, ['-shared', '-fPIC', '-O2', `-I${headers}`, SOURCE, '-o', temporary], {
        stdio: 'pipe',
      });
    } catch (error) {
      rmSync(temporary, { force: true });
      const reason = (error as { stderr?: Buffer }).stderr?.toString().trim() || (error as Error).message;
      throw new ConfigError(
        `could not compile the SQLite extension for double-quoted string literals with '${compiler}': ${reason}`,
        'install a C compiler (apt-get install gcc; better-sqlite3 needs one to build too), or set doubleQuotedStrings: false',
      );
    }
    renameSync(temporary, file);
  }
  built = file;
  return file;
}
