/**
 * DSAR report export. The gateway answers a subject-access request in JSON; the
 * auditor exports it as JSON, CSV (RFC 4180) or a self-contained HTML page.
 */

import { RawRecord, text } from './model';

export type ExportFormat = 'json' | 'csv' | 'html';

export const EXPORT_TYPES: Record<ExportFormat, string> = {
  json: 'application/json',
  csv: 'text/csv',
  html: 'text/html'
};

/** Every field of the report, in the order the gateway gives them (first seen first). */
export function reportColumns(rows: RawRecord[]): string[] {
  return [...new Set(rows.flatMap(row => Object.keys(row)))];
}

export function cellText(value: unknown): string {
  if (Array.isArray(value)) {
    return value.map(cellText).join('; ');
  }
  if (typeof value === 'object' && value !== null) {
    return JSON.stringify(value);
  }
  return text(value);
}

function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

export function toCsv(rows: RawRecord[]): string {
  const columns = reportColumns(rows);
  const lines = [columns.map(csvField).join(',')];
  for (const row of rows) {
    lines.push(columns.map(column => csvField(cellText(row[column]))).join(','));
  }
  return lines.join('\r\n') + '\r\n';
}

export function escapeHtml(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

export function toHtml(rows: RawRecord[], subject: string, generatedAt: Date): string {
  const columns = reportColumns(rows);
  const head = columns.map(column => `<th scope="col">${escapeHtml(column)}</th>`).join('');
  const body = rows
    .map(row => {
      const cells = columns.map(column => `<td>${escapeHtml(cellText(row[column]))}</td>`);
      return `<tr>${cells.join('')}</tr>`;
    })
    .join('\n');
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<title>Subject access report</title>',
    '<style>body{font-family:sans-serif}table{border-collapse:collapse}',
    'th,td{border:1px solid #999;padding:4px;text-align:left;vertical-align:top}</style>',
    '</head><body>',
    '<h1>Subject access report (GDPR Art. 15)</h1>',
    `<p>Subject: ${escapeHtml(subject)}<br>Generated: ${escapeHtml(generatedAt.toISOString())}`,
    `<br>Executions that returned the subject's data: ${rows.length}</p>`,
    `<table><thead><tr>${head}</tr></thead><tbody>`,
    body,
    '</tbody></table></body></html>',
    ''
  ].join('\n');
}

export function renderReport(
  rows: RawRecord[],
  format: ExportFormat,
  subject: string,
  generatedAt: Date = new Date()
): string {
  if (format === 'csv') {
    return toCsv(rows);
  }
  if (format === 'html') {
    return toHtml(rows, subject, generatedAt);
  }
  return JSON.stringify(rows, null, 2) + '\n';
}

/** Offer text as a file download in the browser. */
export function downloadText(content: string, filename: string, type: string): void {
  const url = URL.createObjectURL(new Blob([content], { type }));
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  document.body.appendChild(link);
  link.click();
  link.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 1000);
}
