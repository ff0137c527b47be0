import {
  countMap,
  formatDuration,
  median,
  normalizeApproval,
  normalizeExecution,
  normalizeGrant,
  normalizeStats,
  textList,
  toDate
} from '../model';
import { approvalDict, executionRow, grantDict } from './gateway';

describe('normalizeExecution', () => {
  it('reads a provenance row whose lists are JSON text', () => {
    const row = normalizeExecution(
      executionRow({ tables_written: '["churn_scores"]', rule_ids: '["sql.select_star"]' })
    );
    expect(row.user).toBe('ana');
    expect(row.connection).toBe('prod');
    expect(row.action).toBe('allow');
    expect(row.tables).toEqual(['customers', 'churn_scores']);
    expect(row.rules).toEqual(['sql.select_star']);
    expect(row.rows).toBe(12);
    expect(row.startedAt?.toISOString()).toBe('2026-11-28T10:15:00.123Z');
    expect(row.code).toBe('SELECT email FROM customers');
  });

  it('takes the action from a verdict object too', () => {
    const row = normalizeExecution({ id: 'x', verdict: { action: 'flag', rules: [] } });
    expect(row.action).toBe('flag');
    expect(row.status).toBe('started');
    expect(row.entityCounts).toEqual({});
  });
});

describe('normalizeApproval', () => {
  it('lists approvers from decisions when the list is absent', () => {
    const approval = normalizeApproval(
      approvalDict({ approvers: undefined, decisions: [{ approver: 'dora', basis: 'consent' }] })
    );
    expect(approval.approvers).toEqual(['dora']);
  });

  it('reads tables and masking predictions when the gateway sends them', () => {
    const approval = normalizeApproval(
      approvalDict({ tables: ['customers'], masking: { email: ['EMAIL_ADDRESS'] } })
    );
    expect(approval.tables).toEqual(['customers']);
    expect(approval.masking).toEqual(['email: EMAIL_ADDRESS']);
  });

  it('reads the one-entity-per-column prediction ApprovalRequest.to_dict() sends', () => {
    const approval = normalizeApproval(
      approvalDict({
        statement_types: ['UPDATE'],
        masking: {
          'c.email': 'EMAIL_ADDRESS',
          'c.note': 'checked by content',
          'o.email': 'EMAIL_ADDRESS'
        }
      })
    );
    expect(approval.statementTypes).toEqual(['UPDATE']);
    expect(approval.masking).toEqual([
      'c.email: EMAIL_ADDRESS',
      'c.note: checked by content',
      'o.email: EMAIL_ADDRESS'
    ]);
    expect(approval.predictedEntities).toEqual(['EMAIL_ADDRESS']);
    expect(approval.matched).toEqual([]);
  });
});

describe('normalizeGrant', () => {
  it('reads Grant.to_dict()', () => {
    const grant = normalizeGrant(grantDict({ rules: [] }));
    expect(grant).toMatchObject({ id: 'gr-1', user: 'ana', connection: 'prod', rules: [] });
    expect(grant.endsAt?.toISOString()).toBe('2025-11-29T02:03:20.000Z');
  });
});

describe('normalizeStats', () => {
  it('reads the store figures', () => {
    const stats = normalizeStats({
      executions_per_day: [{ day: '2026-11-27', status: 'ok', count: 4 }],
      masked_by_entity: { PERSON: 3 },
      approval_turnaround_s: { decided: 2, median: 75.5, max: 120 }
    });
    expect(stats).toEqual({
      perDay: [{ day: '2026-11-27', status: 'ok', count: 4 }],
      maskedByEntity: { PERSON: 3 },
      turnaround: { decided: 2, median: 75.5, max: 120 }
    });
  });

  it('accepts nested maps and turnaround samples too', () => {
    const stats = normalizeStats({
      executions_per_day: { '2026-11-27': { ok: 4 } },
      masked_by_entity: [{ entity_type: 'PERSON', count: 3 }],
      approval_turnaround: [{ seconds: 120 }, 30, 60]
    });
    expect(stats.perDay).toEqual([{ day: '2026-11-27', status: 'ok', count: 4 }]);
    expect(stats.maskedByEntity).toEqual({ PERSON: 3 });
    expect(stats.turnaround).toEqual({ decided: 3, median: 60, max: 120 });
  });

  it('gives empty figures for an empty store', () => {
    expect(normalizeStats({})).toEqual({
      perDay: [],
      maskedByEntity: {},
      turnaround: { decided: 0, median: null, max: null }
    });
  });
});

describe('helpers', () => {
  it('parse lists, counts and dates defensively', () => {
    expect(textList('["a", "b"]')).toEqual(['a', 'b']);
    expect(textList('plain')).toEqual(['plain']);
    expect(textList(null)).toEqual([]);
    expect(countMap('{"EMAIL_ADDRESS": 2, "bad": "x"}')).toEqual({ EMAIL_ADDRESS: 2 });
    expect(toDate('not a date')).toBeNull();
    expect(toDate('2026-01-02T03:04:05+01:00')?.toISOString()).toBe('2026-01-02T02:04:05.000Z');
  });

  it('computes medians and readable durations', () => {
    expect(median([])).toBeNull();
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(formatDuration(45)).toBe('45 s');
    expect(formatDuration(600)).toBe('10 min');
    expect(formatDuration(7200)).toBe('2.0 h');
  });
});
