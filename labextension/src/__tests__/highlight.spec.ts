import { flaggedTerms, highlightSegments } from '../highlight';

describe('flagged parts of held code', () => {
  it('derives terms from rule ids and tables', () => {
    expect(flaggedTerms(['sql.delete_without_where', 'sql.select_star'], ['customers'])).toEqual([
      'delete',
      'select',
      '*',
      'customers'
    ]);
  });

  it('maps rule ids whose words are not SQL to the words they are about', () => {
    expect(flaggedTerms(['sql.unbounded_read'], [])).toEqual(['select', '*', 'copy']);
  });

  it('marks whole words case-insensitively and keeps the text intact', () => {
    const code = 'delete FROM Customers; -- deleted_customers stays';
    const segments = highlightSegments(code, ['delete', 'customers']);
    expect(segments.map(segment => segment.text).join('')).toBe(code);
    expect(segments.filter(segment => segment.flagged).map(segment => segment.text)).toEqual([
      'delete',
      'Customers'
    ]);
  });

  it('marks symbols such as the star', () => {
    const segments = highlightSegments('SELECT * FROM t', ['*']);
    expect(segments).toEqual([
      { text: 'SELECT ', flagged: false },
      { text: '*', flagged: true },
      { text: ' FROM t', flagged: false }
    ]);
  });

  it('returns the code unmarked without terms', () => {
    expect(highlightSegments('SELECT 1', [])).toEqual([{ text: 'SELECT 1', flagged: false }]);
  });
});
