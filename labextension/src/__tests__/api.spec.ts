import { NbwardenApiError, NbwardenClient, withQuery } from '../api';
import { approvalDict, executionRow, GatewayDouble } from './gateway';

describe('NbwardenClient', () => {
  const gateway = new GatewayDouble();
  let client: NbwardenClient;

  beforeAll(() => gateway.start());
  afterAll(() => gateway.stop());
  beforeEach(() => {
    gateway.routes = {};
    gateway.requests.length = 0;
    client = new NbwardenClient(gateway.settings());
  });

  it('asks whoami under the server base URL with the session token', async () => {
    gateway.on('GET', 'whoami', () => ({ body: { user: 'dora', roles: ['approver'] } }));
    await expect(client.whoami()).resolves.toEqual({ user: 'dora', roles: ['approver'] });
    expect(gateway.last().url).toBe('/lab-base/nbwarden/api/whoami');
    expect(gateway.last().headers.authorization).toBe('token test-token');
  });

  it('lists pending approvals and normalises the gateway fields', async () => {
    gateway.on('GET', 'approvals', () => ({ body: [approvalDict()] }));
    const [approval] = await client.approvals('pending');
    expect(gateway.last().url).toBe('/lab-base/nbwarden/api/approvals?state=pending');
    expect(approval.connection).toBe('prod');
    expect(approval.code).toBe('DELETE FROM customers');
    expect(approval.rules).toEqual(['sql.delete_without_where']);
    expect(approval.createdAt?.toISOString()).toBe('2025-11-29T01:33:20.500Z');
  });

  it('posts an approval decision as JSON with the XSRF token', async () => {
    document.cookie = '_xsrf=xsrf-value';
    gateway.on('POST', 'approvals/apr-1/approve', request => ({
      body: approvalDict({
        state: 'approved',
        approvers: ['dora'],
        basis: JSON.parse(request.body).basis
      })
    }));
    const approved = await client.approve('apr-1', {
      basis: 'legitimate_interests',
      justification: 'quarterly churn review',
      unmask_columns: ['email'],
      unmask_entities: [],
      grant_minutes: 30
    });
    const sent = gateway.last();
    expect(sent.method).toBe('POST');
    expect(sent.headers['content-type']).toBe('application/json');
    expect(sent.headers['x-xsrftoken']).toBe('xsrf-value');
    expect(JSON.parse(sent.body)).toEqual({
      basis: 'legitimate_interests',
      justification: 'quarterly churn review',
      unmask_columns: ['email'],
      unmask_entities: [],
      grant_minutes: 30
    });
    expect(approved.state).toBe('approved');
    expect(approved.approvers).toEqual(['dora']);
    expect(approved.basis).toBe('legitimate_interests');
  });

  it('escapes ids in paths', async () => {
    gateway.on('POST', 'approvals/a%2Fb/reject', () => ({ body: approvalDict({ id: 'a/b' }) }));
    await client.reject('a/b', 'no purpose');
    expect(gateway.last().url).toBe('/lab-base/nbwarden/api/approvals/a%2Fb/reject');
    expect(JSON.parse(gateway.last().body)).toEqual({ reason: 'no purpose' });
  });

  it('searches executions with only the filters given', async () => {
    gateway.on('GET', 'executions', () => ({ body: [executionRow()] }));
    const rows = await client.executions({ user: 'ana', table: '', status: 'ok' });
    expect(gateway.last().url).toBe('/lab-base/nbwarden/api/executions?user=ana&status=ok');
    expect(rows[0].tables).toEqual(['customers']);
    expect(rows[0].entityCounts).toEqual({ EMAIL_ADDRESS: 12 });
  });

  it('runs a DSAR and unwraps the executions list', async () => {
    gateway.on('POST', 'dsar', () => ({
      body: { executions: [{ id: 'exe-1', purpose: 'churn study' }], count: 1 }
    }));
    const rows = await client.dsar({ email: 'subject@example.org' });
    expect(JSON.parse(gateway.last().body)).toEqual({ email: 'subject@example.org' });
    expect(rows).toEqual([{ id: 'exe-1', purpose: 'churn study' }]);
  });

  it("shows the gateway's own error message with its status", async () => {
    gateway.on('POST', 'approvals/apr-1/approve', () => ({
      status: 403,
      body: { error: 'you may not approve your own request' }
    }));
    const failure = client.approve('apr-1', {
      basis: 'consent',
      justification: '',
      unmask_columns: [],
      unmask_entities: [],
      grant_minutes: null
    });
    await expect(failure).rejects.toEqual(
      new NbwardenApiError(403, 'you may not approve your own request')
    );
  });

  it('never shows the body of a non-JSON error page', async () => {
    gateway.on('GET', 'audit/verify', () => ({
      status: 500,
      raw: '<html>Traceback postgresql://admin:hunter2@db/prod</html>',
      contentType: 'text/html'
    }));
    const error = await client.verify().catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(NbwardenApiError);
    expect((error as NbwardenApiError).status).toBe(500);
    expect((error as NbwardenApiError).message).toBe('The gateway answered 500.');
  });

  it('reports an unreachable gateway without throwing a raw network error', async () => {
    const offline = new NbwardenClient({
      ...gateway.settings(),
      baseUrl: 'http://127.0.0.1:9/'
    });
    const error = await offline.whoami().catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(NbwardenApiError);
    expect((error as NbwardenApiError).status).toBe(0);
  });

  it('refuses an answer that is not the list it asked for', async () => {
    gateway.on('GET', 'approvals', () => ({ body: { unexpected: true } }));
    await expect(client.approvals()).rejects.toBeInstanceOf(NbwardenApiError);
  });
});

describe('withQuery', () => {
  it('encodes values and drops empty ones', () => {
    expect(withQuery('executions', { table: 'a b&c', user: undefined, status: '' })).toBe(
      'executions?table=a+b%26c'
    );
    expect(withQuery('approvals', {})).toBe('approvals');
  });
});
