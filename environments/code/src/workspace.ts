import { ToolError } from '@toolgym/env-kit';

export const MAX_FILES = 32;
export const MAX_FILE_BYTES = 256 * 1024;

/**
 * The episode's work dir, kept on the host: write_file/read_file edit it, and every sandbox run
 * starts from a copy of it. Files a program writes during a run are not kept (each run is a fresh
 * sandbox), so the agent's files change only through write_file.
 */
export class Workspace {
  private readonly files = new Map<string, string>();

  write(rel: string, content: string): void {
    const path = normalise(rel);
    if (Buffer.byteLength(content) > MAX_FILE_BYTES) {
      throw new ToolError(
        `'${path}' is ${Buffer.byteLength(content)} bytes; files are limited to ${MAX_FILE_BYTES} bytes.`,
        'file_too_large',
      );
    }
    if (!this.files.has(path) && this.files.size >= MAX_FILES) {
      throw new ToolError(
        `The work dir already holds ${MAX_FILES} files; overwrite one instead.`,
        'too_many_files',
      );
    }
    this.files.set(path, content);
  }

  read(rel: string): string {
    const path = normalise(rel);
    const content = this.files.get(path);
    if (content === undefined) {
      const list = [...this.files.keys()].sort();
      throw new ToolError(
        `No file '${path}'. Files: ${list.length > 0 ? list.join(', ') : '(none yet; create one with write_file)'}.`,
        'file_not_found',
      );
    }
    return content;
  }

  has(rel: string): boolean {
    return this.files.has(rel);
  }

  snapshot(): Record<string, string> {
    return Object.fromEntries(this.files);
  }
}

/** `./a/b.py` → `a/b.py`; rejects absolute paths and `..` with a message the model can act on. */
function normalise(rel: string): string {
  const parts = rel.split('/').filter((p) => p !== '' && p !== '.');
  if (rel.startsWith('/') || parts.length === 0 || parts.some((p) => p === '..') || rel.includes('\0')) {
    throw new ToolError(
      `Path '${rel}' is not inside the work dir: use a relative path such as 'solution.py'.`,
      'invalid_path',
    );
  }
  return parts.join('/');
}
