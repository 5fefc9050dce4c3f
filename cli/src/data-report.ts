import type { DataFileReport } from '@toolgym/env-kit';

/**
 * What an environment's data load left out or changed, for stderr: per file the counts, then one
 * line per skipped or changed record (`file:line`) with the reason. Empty when nothing was read.
 */
export function formatDataReport(reports: readonly DataFileReport[]): string {
  return reports
    .map((report) => {
      const skipped = report.notices.filter((n) => n.skipped).length;
      const changed = new Set(report.notices.filter((n) => !n.skipped && n.line !== undefined).map((n) => n.line)).size;
      const head = `toolgym: ${report.file}: ${report.records} records, ${report.loaded} loaded, ${skipped} skipped, ${changed} loaded with changes\n`;
      const lines = report.notices.map(
        (n) => `  ${report.file}${n.line === undefined ? '' : `:${n.line}`}: ${n.skipped ? 'skipped' : 'changed'}: ${n.message}\n`,
      );
      return head + lines.join('');
    })
    .join('');
}
