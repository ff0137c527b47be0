import { badgeFor, declaredContext, governanceOf } from '../badges';
import { normalizeApproval, normalizeExecution } from '../model';
import { approvalDict, executionRow } from './gateway';

describe('cell governance badges', () => {
  it('reads the last governed output and keeps earlier ids', () => {
    const governance = governanceOf([
      { metadata: {} },
      { metadata: { nbwarden: { approval_id: 'apr-1', status: 'pending' } } },
      { metadata: { nbwarden: { execution_id: 'exe-1', status: 'ok' } } }
    ]);
    expect(governance).toEqual({ executionId: 'exe-1', approvalId: 'apr-1', status: 'ok' });
    expect(governanceOf([{ metadata: { other: 1 } }])).toBeNull();
  });

  it('says allowed, masked N or approved by X for a finished cell', () => {
    const governance = { executionId: 'exe-1', approvalId: '', status: 'ok' };
    const clean = normalizeExecution(executionRow({ entity_counts: '{}' }));
    const masked = normalizeExecution(executionRow({ entity_counts: '{"PERSON": 3, "EMAIL": 2}' }));
    const approval = normalizeApproval(approvalDict({ state: 'used', approvers: ['dora'] }));
    expect(badgeFor(governance, clean, null).label).toBe('allowed');
    expect(badgeFor(governance, masked, null)).toEqual({
      label: 'masked 5',
      kind: 'masked',
      title: 'provenance record exe-1'
    });
    expect(badgeFor(governance, masked, approval).label).toBe('approved by dora · masked 5');
  });

  it('names pending, blocked and withheld cells', () => {
    const base = { executionId: '', approvalId: 'apr-1' };
    expect(badgeFor({ ...base, status: 'pending' }, null, null).label).toBe('pending approval');
    expect(badgeFor({ ...base, status: 'rejected' }, null, null).kind).toBe('blocked');
    expect(badgeFor({ ...base, status: 'withheld' }, null, null).label).toBe('withheld');
  });

  it('finds the connection and purpose declared in the notebook', () => {
    const sources = [
      '%purpose churn study Q4',
      '%%sql prod\nSELECT 1',
      'x = 1',
      '%%sql warehouse << result\nSELECT 2'
    ];
    expect(declaredContext(sources)).toEqual({
      connection: 'warehouse',
      purpose: 'churn study Q4'
    });
    expect(declaredContext(['print(1)'])).toEqual({ connection: '', purpose: '' });
  });
});
