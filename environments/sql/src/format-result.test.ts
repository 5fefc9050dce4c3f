import { describe, expect, it } from 'vitest';
import { formatResult } from './format-result.ts';

describe('formatResult', () => {
  it('shows columns, rows, NULL and the row count', () => {
    const text = formatResult(
      {
        columns: ['name', 'capital'],
        rows: [
          ['France', 'Paris'],
          ['Nauru', null],
        ],
        rowCount: 2,
        rowCountComplete: true,
        cellsCut: false,
      },
      { maxRows: 20, maxCellChars: 40 },
    );
    expect(
      formatResult(
        { columns: ['a'], rows: [[1], [2]], rowCount: 7, rowCountComplete: true, cellsCut: false },
        { maxRows: 2, maxCellChars: 5 },
      ),
    ).toContain('[truncated: 5 more rows not shown]');
    expect(text.split('\n')).toEqual([
      '2 rows',
      'name   | capital',
      '-------+--------',
      'France | Paris',
      'Nauru  | NULL',
    ]);
  });

  it('marks cut rows, uncounted rows and long cells', () => {
    const rows = Array.from({ length: 5 }, (_, i) => [i, 'x'.repeat(100)]);
    const text = formatResult(
      { columns: ['i', 'text'], rows, rowCount: 1000, rowCountComplete: false, cellsCut: true },
      { maxRows: 3, maxCellChars: 10 },
    );
    expect(text).toMatch(/^at least 1000 rows \(showing the first 3\)/);
    expect(text).toContain('xxxxxxxxx…');
    expect(text).toContain('[truncated: more rows not shown]');
    expect(text).toContain('[some long values were cut]');
    expect(text.split('\n')).toHaveLength(1 + 2 + 3 + 2);
  });
});
