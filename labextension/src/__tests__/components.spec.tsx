import React, { act } from 'react';
import { createRoot, Root } from 'react-dom/client';

import { NbwardenClient } from '../api';
import { ApprovalsView, GrantsView } from '../approvals';
import { AuditView } from '../audit';
import { ExecutionsPerDayChart, stackByDay, TurnaroundChart } from '../charts';
import { APPROVAL_SCHEMA_ID, GovernanceEvents } from '../events';
import { approvalDict, executionRow, GatewayDouble, grantDict } from './gateway';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const gateway = new GatewayDouble();
let container: HTMLDivElement;
let root: Root;

async function render(element: JSX.Element): Promise<void> {
  await act(async () => root.render(element));
}

/** Let pending fetches settle and React re-render. */
async function settle(check: () => boolean): Promise<void> {
  for (let attempt = 0; attempt < 50 && !check(); attempt++) {
    await act(() => new Promise(resolve => setTimeout(resolve, 20)));
  }
  expect(check()).toBe(true);
}

function setValue(
  element: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement,
  value: string
) {
  const prototype = Object.getPrototypeOf(element);
  Object.getOwnPropertyDescriptor(prototype, 'value')!.set!.call(element, value);
  element.dispatchEvent(
    new Event(element instanceof HTMLSelectElement ? 'change' : 'input', {
      bubbles: true
    })
  );
}

beforeAll(() => gateway.start());
afterAll(() => gateway.stop());
beforeEach(() => {
  gateway.routes = {};
  gateway.on('GET', 'grants', () => ({ body: [] }));
  gateway.requests.length = 0;
  container = document.createElement('div');
  document.body.appendChild(container);
  root = createRoot(container);
});
afterEach(async () => {
  await act(async () => root.unmount());
  container.remove();
});

describe('ApprovalsView', () => {
  it('lists pending requests, approves with a legal basis and reloads on events', async () => {
    let pending = [approvalDict(), approvalDict({ id: 'apr-2', requester: 'ben' })];
    gateway.on('GET', 'approvals', () => ({ body: pending }));
    gateway.on('POST', 'approvals/apr-1/approve', () => {
      pending = pending.filter(item => item.id !== 'apr-1');
      return { body: approvalDict({ state: 'approved', approvers: ['dora'] }) };
    });
    const counts: number[] = [];
    const events = new GovernanceEvents();
    const client = new NbwardenClient(gateway.settings());
    await render(<ApprovalsView client={client} events={events} onCount={n => counts.push(n)} />);
    await settle(() => container.querySelectorAll('.nbw-card').length === 2);
    expect(container.querySelector('.nbw-count')?.textContent).toBe('2 pending');
    expect(container.querySelector('mark.nbw-flagged')?.textContent).toBe('DELETE');
    expect(container.textContent).toContain('churn study');

    const card = container.querySelector<HTMLElement>('[aria-label="Approval request apr-1"]')!;
    const approve = card.querySelector<HTMLButtonElement>('.nbw-approve')!;
    expect(approve.disabled).toBe(true);
    await act(async () => setValue(card.querySelector('select')!, 'legitimate_interests'));
    expect(approve.disabled).toBe(false);
    await act(async () => approve.click());
    await settle(() => container.querySelectorAll('.nbw-card').length === 1);
    const decision = gateway.requests.find(request => request.method === 'POST')!;
    expect(JSON.parse(decision.body)).toMatchObject({
      basis: 'legitimate_interests',
      grant_minutes: null,
      unmask_columns: []
    });
    expect(container.querySelector('[role="status"]')?.textContent).toBe(
      'Request apr-1 is approved.'
    );

    pending = [];
    await act(async () =>
      events.dispatch({ schema_id: APPROVAL_SCHEMA_ID, id: 'apr-2', state: 'withdrawn' })
    );
    await settle(() => container.textContent!.includes('Nothing is waiting for approval.'));
    expect(counts).toEqual([2, 1, 0]);
  });

  it('needs a justification to unmask and shows the refusal of the gateway', async () => {
    gateway.on('GET', 'approvals', () => ({ body: [approvalDict()] }));
    gateway.on('POST', 'approvals/apr-1/approve', () => ({
      status: 403,
      body: { error: 'you may not approve your own request' }
    }));
    const client = new NbwardenClient(gateway.settings());
    await render(
      <ApprovalsView client={client} events={new GovernanceEvents()} onCount={() => undefined} />
    );
    await settle(() => container.querySelector('.nbw-card') !== null);
    const approve = container.querySelector<HTMLButtonElement>('.nbw-approve')!;
    await act(async () => setValue(container.querySelector('select')!, 'consent'));
    await act(async () => setValue(container.querySelector('.nbw-unmask')!, 'email'));
    expect(approve.disabled).toBe(true);
    await act(async () =>
      setValue(container.querySelector('.nbw-justification')!, 'subject asked for a copy')
    );
    await act(async () => approve.click());
    await settle(() => container.querySelector('[role="alert"]') !== null);
    expect(container.querySelector('[role="alert"]')?.textContent).toBe(
      'you may not approve your own request'
    );
  });
});

describe('approval details and unmasking by entity type', () => {
  const held = approvalDict({
    code_masked: 'UPDATE customers SET note = 1 WHERE email = <EMAIL_ADDRESS_1>',
    rules: ['sql.write'],
    reasons: ['Writes data'],
    statement_types: ['UPDATE'],
    tables_read: ['customers'],
    tables_written: ['customers'],
    tables: ['customers'],
    columns: ['customers.email', 'customers.signup'],
    masking: { 'customers.email': 'EMAIL_ADDRESS', 'customers.signup': 'checked by content' }
  });

  it('shows tables, columns and the predicted masking of a held cell', async () => {
    gateway.on('GET', 'approvals', () => ({ body: [held] }));
    const client = new NbwardenClient(gateway.settings());
    await render(
      <ApprovalsView client={client} events={new GovernanceEvents()} onCount={() => undefined} />
    );
    await settle(() => container.querySelector('.nbw-card') !== null);
    const facts = container.querySelector('.nbw-facts')!.textContent!;
    expect(facts).toContain('UPDATE');
    expect(facts).toContain('customers.email, customers.signup');
    expect(facts).toContain('customers.email: EMAIL_ADDRESS');
    expect(facts).toContain('customers.signup: checked by content');
    expect(facts).not.toContain('not reported');
    const marks = Array.from(container.querySelectorAll('mark.nbw-flagged'), m => m.textContent);
    expect(marks).toEqual(['UPDATE', 'customers']);
  });

  it('highlights the matched text of the rule when the gateway reports it', async () => {
    const matched = { ...held, matched: ['WHERE email ='] };
    gateway.on('GET', 'approvals', () => ({ body: [matched] }));
    const client = new NbwardenClient(gateway.settings());
    await render(
      <ApprovalsView client={client} events={new GovernanceEvents()} onCount={() => undefined} />
    );
    await settle(() => container.querySelector('.nbw-card') !== null);
    const marks = Array.from(container.querySelectorAll('mark.nbw-flagged'), m => m.textContent);
    expect(marks).toEqual(['WHERE email =']);
  });

  it('sends the chosen entity types and asks for a justification first', async () => {
    gateway.on('GET', 'approvals', () => ({ body: [held] }));
    gateway.on('POST', 'approvals/apr-1/approve', () => ({
      body: approvalDict({ state: 'approved', approvers: ['dora'] })
    }));
    const client = new NbwardenClient(gateway.settings());
    await render(
      <ApprovalsView client={client} events={new GovernanceEvents()} onCount={() => undefined} />
    );
    await settle(() => container.querySelector('.nbw-card') !== null);
    const entities = container.querySelector<HTMLSelectElement>('.nbw-unmask-entities')!;
    expect(entities.multiple).toBe(true);
    expect(entities.options[0].value).toBe('EMAIL_ADDRESS');
    expect(entities.options[0].textContent).toContain('predicted here');
    await act(async () => setValue(container.querySelector('.nbw-basis')!, 'legal_obligation'));
    const approve = container.querySelector<HTMLButtonElement>('.nbw-approve')!;
    expect(approve.disabled).toBe(false);
    await act(async () => {
      for (const option of Array.from(entities.options)) {
        option.selected = ['EMAIL_ADDRESS', 'PERSON'].includes(option.value);
      }
      entities.dispatchEvent(new Event('change', { bubbles: true }));
    });
    expect(approve.disabled).toBe(true);
    await act(async () =>
      setValue(container.querySelector('.nbw-justification')!, 'Art. 15 request')
    );
    expect(approve.disabled).toBe(false);
    await act(async () => approve.click());
    await settle(() => gateway.requests.some(request => request.method === 'POST'));
    const decision = gateway.requests.find(request => request.method === 'POST')!;
    expect(JSON.parse(decision.body)).toMatchObject({
      basis: 'legal_obligation',
      justification: 'Art. 15 request',
      unmask_entities: ['EMAIL_ADDRESS', 'PERSON']
    });
  });
});

describe('GrantsView', () => {
  it('lists active grants and revokes one', async () => {
    let active = [grantDict(), grantDict({ id: 'gr-2', user: 'ben', rules: [] })];
    gateway.on('GET', 'grants', () => ({ body: active }));
    gateway.on('POST', 'grants/gr-1/revoke', () => {
      active = active.filter(grant => grant.id !== 'gr-1');
      return { body: grantDict({ state: 'revoked', revoked_by: 'dora' }) };
    });
    const client = new NbwardenClient(gateway.settings());
    await render(<GrantsView client={client} events={new GovernanceEvents()} />);
    await settle(() => container.querySelectorAll('tbody tr').length === 2);
    expect(gateway.requests.some(r => r.url.endsWith('grants?active=true'))).toBe(true);
    const first = container.querySelector<HTMLElement>('[aria-label="Grant gr-1"]')!;
    expect(first.textContent).toContain('ana');
    expect(first.textContent).toContain('prod');
    expect(first.textContent).toContain('sql.write');
    expect(first.textContent).toContain('2025-11-29 01:33:20 UTC');
    expect(container.querySelector('[aria-label="Grant gr-2"]')!.textContent).toContain(
      'every flag rule'
    );
    await act(async () => first.querySelector<HTMLButtonElement>('.nbw-revoke')!.click());
    await settle(() => container.querySelectorAll('tbody tr').length === 1);
    expect(
      gateway.requests.some(r => r.method === 'POST' && r.url.endsWith('grants/gr-1/revoke'))
    ).toBe(true);
  });

  it('shows the refusal of the gateway', async () => {
    gateway.on('GET', 'grants', () => ({ body: [grantDict()] }));
    gateway.on('POST', 'grants/gr-1/revoke', () => ({
      status: 409,
      body: { error: 'grant gr-1 is revoked' }
    }));
    const client = new NbwardenClient(gateway.settings());
    await render(<GrantsView client={client} events={new GovernanceEvents()} />);
    await settle(() => container.querySelector('.nbw-revoke') !== null);
    await act(async () => container.querySelector<HTMLButtonElement>('.nbw-revoke')!.click());
    await settle(() => container.textContent!.includes('grant gr-1 is revoked'));
  });
});

describe('AuditView', () => {
  it('runs a DSAR and shows the report', async () => {
    gateway.on('POST', 'dsar', () => ({
      body: { executions: [{ id: 'exe-1', purpose: 'churn study', user: 'ana' }], count: 1 }
    }));
    const client = new NbwardenClient(gateway.settings());
    await render(<AuditView client={client} loadOutputs={async () => ({})} initialTab="dsar" />);
    await act(async () =>
      setValue(container.querySelector('#nbw-d-email')!, 'subject@example.org')
    );
    await act(async () => container.querySelector<HTMLButtonElement>('.nbw-dsar-run')!.click());
    await settle(() => container.querySelector('.nbw-dsar-table') !== null);
    expect(JSON.parse(gateway.last().body)).toEqual({ email: 'subject@example.org' });
    expect(container.textContent).toContain("1 execution returned this subject's data.");
    expect(container.querySelector('.nbw-export-csv')).not.toBeNull();
  });

  it('verifies the chain and names the first bad record', async () => {
    gateway.on('GET', 'audit/verify', () => ({
      body: { ok: false, checked: 41, first_bad: 'seq 17', problem: 'hash mismatch' }
    }));
    const client = new NbwardenClient(gateway.settings());
    await render(<AuditView client={client} loadOutputs={async () => ({})} initialTab="verify" />);
    await act(async () => container.querySelector<HTMLButtonElement>('.nbw-verify')!.click());
    await settle(() => container.querySelector('[role="status"]') !== null);
    expect(container.querySelector('[role="status"]')?.textContent).toBe(
      'Broken at record seq 17: hash mismatch (41 records checked).'
    );
  });

  it('replays a notebook in order with saved outputs', async () => {
    gateway.on('GET', 'executions', () => ({
      body: [
        executionRow({ id: 'late', started_at: '2026-11-28 12:00:00', execution_count: 5 }),
        executionRow({ id: 'early', started_at: '2026-11-28 09:00:00', execution_count: 2 }),
        executionRow({ id: 'other', notebook: 'other.ipynb' })
      ]
    }));
    const client = new NbwardenClient(gateway.settings());
    const outputs = { early: 'email\n<EMAIL_ADDRESS_1>' };
    await render(
      <AuditView client={client} loadOutputs={async () => outputs} initialTab="replay" />
    );
    await act(async () =>
      setValue(container.querySelector('#nbw-r-notebook')!, 'work/churn.ipynb')
    );
    await act(async () => {
      container.querySelector('form')!.dispatchEvent(new Event('submit', { bubbles: true }));
    });
    await settle(() => container.querySelectorAll('.nbw-replay-cell').length === 2);
    const prompts = [...container.querySelectorAll('.nbw-prompt')].map(node => node.textContent);
    expect(prompts).toEqual(['[2]', '[5]']);
    expect(container.querySelector('.nbw-output')?.textContent).toBe('email\n<EMAIL_ADDRESS_1>');
  });

  it('moves between tabs with the arrow keys', async () => {
    const client = new NbwardenClient(gateway.settings());
    await render(<AuditView client={client} loadOutputs={async () => ({})} />);
    const first = container.querySelector<HTMLButtonElement>('#nbw-tab-executions')!;
    await act(async () => {
      first.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowRight', bubbles: true }));
    });
    expect(container.querySelector('#nbw-tab-dsar')?.getAttribute('aria-selected')).toBe('true');
  });
});

describe('charts', () => {
  it('stacks statuses per day in date order', () => {
    const days = stackByDay([
      { day: '2026-11-28', status: 'ok', count: 3 },
      { day: '2026-11-27', status: 'blocked', count: 1 },
      { day: '2026-11-28', status: 'blocked', count: 2 }
    ]);
    expect(days.map(day => [day.day, day.total])).toEqual([
      ['2026-11-27', 1],
      ['2026-11-28', 5]
    ]);
  });

  it('draws one bar segment per day and status with an accessible summary', async () => {
    await render(
      <ExecutionsPerDayChart
        rows={[
          { day: '2026-11-27', status: 'ok', count: 2 },
          { day: '2026-11-28', status: 'ok', count: 4 },
          { day: '2026-11-28', status: 'blocked', count: 1 }
        ]}
      />
    );
    expect(container.querySelectorAll('rect')).toHaveLength(3);
    expect(container.querySelector('svg')?.getAttribute('aria-label')).toBe(
      'Executions per day by status. 2026-11-27: 2, 2026-11-28: 5'
    );
  });
});

describe('TurnaroundChart', () => {
  it('states the median and the longest turnaround', async () => {
    await render(<TurnaroundChart turnaround={{ decided: 3, median: 150, max: 5400 }} />);
    expect(container.querySelector('p')?.textContent).toBe(
      '3 decided approvals: median 3 min, longest 1.5 h.'
    );
    expect(container.querySelectorAll('rect')).toHaveLength(2);
  });

  it('says so when nothing was decided', async () => {
    await render(<TurnaroundChart turnaround={{ decided: 0, median: null, max: null }} />);
    expect(container.textContent).toBe('No decided approvals yet.');
  });
});
