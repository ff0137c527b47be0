/**
 * Which parts of a held cell made the policy flag it, for highlighting in the
 * approvals panel. The gateway names rules (e.g. `sql.delete_without_where`) and
 * tables; this maps them back to spans of the masked code.
 */

export interface Segment {
  text: string;
  flagged: boolean;
}

/** SQL and shell words that rule ids refer to. */
const RULE_WORDS = [
  'delete',
  'update',
  'insert',
  'drop',
  'truncate',
  'alter',
  'grant',
  'revoke',
  'create',
  'merge',
  'copy',
  'select',
  'rm',
  'sudo',
  'curl',
  'wget',
  'scp',
  'psql',
  'mysql'
];

/** Rule ids whose words are not SQL words, mapped to the words they are about. */
const RULE_HINTS: Record<string, string[]> = {
  unbounded_read: ['select', '*', 'copy'],
  write: ['insert', 'update', 'delete', 'merge'],
  drop_object: ['drop', 'truncate'],
  privilege: ['grant', 'revoke'],
  unparseable: []
};

export function flaggedTerms(rules: string[], tables: string[]): string[] {
  const terms = new Set<string>();
  for (const rule of rules) {
    const name = rule.split('.').pop() ?? '';
    for (const hint of RULE_HINTS[name] ?? []) {
      terms.add(hint);
    }
    for (const word of rule.toLowerCase().split(/[._-]/)) {
      if (RULE_WORDS.includes(word)) {
        terms.add(word);
      }
    }
    if (/star|wildcard/.test(rule)) {
      terms.add('*');
    }
  }
  for (const table of tables) {
    if (table !== '') {
      terms.add(table.toLowerCase());
    }
  }
  return [...terms];
}

function escapeRegExp(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A term as a pattern that does not match inside a longer word. */
function wholeWord(term: string): string {
  const start = /^\w/.test(term) ? '\\b' : '';
  const end = /\w$/.test(term) ? '\\b' : '';
  return `${start}${escapeRegExp(term)}${end}`;
}

/** Split code into plain and flagged segments; whole words only, case-insensitive. */
export function highlightSegments(code: string, terms: string[]): Segment[] {
  if (terms.length === 0 || code === '') {
    return [{ text: code, flagged: false }];
  }
  const alternatives = [...terms].sort((a, b) => b.length - a.length).map(wholeWord);
  const pattern = new RegExp(alternatives.join('|'), 'gi');
  const segments: Segment[] = [];
  let last = 0;
  for (const match of code.matchAll(pattern)) {
    const start = match.index ?? 0;
    if (start > last) {
      segments.push({ text: code.slice(last, start), flagged: false });
    }
    segments.push({ text: match[0], flagged: true });
    last = start + match[0].length;
  }
  if (last < code.length) {
    segments.push({ text: code.slice(last), flagged: false });
  }
  return segments;
}
