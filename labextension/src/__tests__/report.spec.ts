import { escapeHtml, renderReport, reportColumns, toCsv } from '../report';

const rows = [
  {
    id: 'exe-1',
    started_at: '2026-11-28 10:15:00',
    purpose: 'churn, "Q4" study',
    source_tables: ['customers', 'orders'],
    categories: { EMAIL_ADDRESS: 2 }
  },
  { id: 'exe-2', started_at: '2026-11-28 11:00:00', purpose: '<script>alert(1)</script>' }
];

describe('DSAR export', () => {
  it("keeps the gateway's field order", () => {
    expect(reportColumns(rows)).toEqual([
      'id',
      'started_at',
      'purpose',
      'source_tables',
      'categories'
    ]);
  });

  it('writes RFC 4180 CSV with quoting', () => {
    const lines = toCsv(rows).split('\r\n');
    expect(lines[0]).toBe('id,started_at,purpose,source_tables,categories');
    expect(lines[1]).toBe(
      'exe-1,2026-11-28 10:15:00,"churn, ""Q4"" study",customers; orders,"{""EMAIL_ADDRESS"":2}"'
    );
    expect(lines[2]).toBe('exe-2,2026-11-28 11:00:00,<script>alert(1)</script>,,');
  });

  it('escapes every value in the HTML report', () => {
    const html = renderReport(rows, 'html', 'subject', new Date('2026-11-29T00:00:00Z'));
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain("Executions that returned the subject's data: 2");
    expect(html).toContain('2026-11-29T00:00:00.000Z');
  });

  it('round-trips JSON', () => {
    expect(JSON.parse(renderReport(rows, 'json', 'subject'))).toEqual(rows);
    expect(escapeHtml(`a&b"c'`)).toBe('a&amp;b&quot;c&#39;');
  });
});
