/**
 * A small HTTP server on loopback standing in for the gateway in unit tests: it
 * records each request the client really sends over the network and answers with
 * the JSON shapes nbwarden/server_extension returns. The end-to-end contract with
 * the real gateway is exercised by tests/ui/test_lab.py.
 */

import http from 'http';
import { AddressInfo } from 'net';

import { ServerConnection } from '@jupyterlab/services';

export interface Recorded {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface Reply {
  status?: number;
  body?: unknown;
  raw?: string;
  contentType?: string;
}

export type Route = (request: Recorded) => Reply;

/** ServerConnection appends a timestamp to GET URLs so browsers do not cache them. */
function withoutCacheBuster(url: string): string {
  return url.replace(/[?&]\d{10,}$/, '');
}

export class GatewayDouble {
  readonly requests: Recorded[] = [];
  routes: Record<string, Route> = {};
  private server: http.Server | null = null;
  private port = 0;

  async start(): Promise<void> {
    this.server = http.createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', chunk => chunks.push(chunk as Buffer));
      request.on('end', () => {
        const recorded: Recorded = {
          method: request.method ?? '',
          url: withoutCacheBuster(request.url ?? ''),
          headers: request.headers,
          body: Buffer.concat(chunks).toString('utf8')
        };
        this.requests.push(recorded);
        const path = recorded.url.split('?')[0];
        const route = this.routes[`${recorded.method} ${path}`];
        const reply: Reply = route ? route(recorded) : { status: 404, body: { error: 'no route' } };
        response.writeHead(reply.status ?? 200, {
          'Content-Type': reply.contentType ?? 'application/json'
        });
        response.end(reply.raw ?? JSON.stringify(reply.body ?? {}));
      });
    });
    await new Promise<void>(resolve => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server!.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    await new Promise<void>(resolve => this.server!.close(() => resolve()));
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}/lab-base/`;
  }

  settings(): ServerConnection.ISettings {
    return ServerConnection.makeSettings({
      baseUrl: this.baseUrl,
      wsUrl: this.baseUrl.replace('http', 'ws'),
      token: 'test-token',
      appendToken: false
    });
  }

  on(method: string, path: string, route: Route): void {
    this.routes[`${method} /lab-base/nbwarden/api/${path}`] = route;
  }

  last(): Recorded {
    return this.requests[this.requests.length - 1];
  }
}

/** A grant as Grant.to_dict() returns it (synthetic values). */
export function grantDict(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'gr-1',
    user: 'ana',
    target: 'prod',
    rules: ['sql.write'],
    starts_at: 1764380000,
    ends_at: 1764381800,
    granted_by: 'dora',
    basis: 'contract',
    justification: 'month-end corrections',
    unmask_columns: [],
    unmask_entities: [],
    state: 'active',
    revoked_by: null,
    source_request: null,
    created_at: 1764380000,
    updated_at: 1764380000,
    ...overrides
  };
}

/** An approval request as ApprovalRequest.to_dict() returns it (synthetic values). */
export function approvalDict(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'apr-1',
    kind: 'sql',
    target: 'prod',
    requester: 'ana',
    binding: 'b'.repeat(64),
    code_masked: 'DELETE FROM customers',
    rules: ['sql.delete_without_where'],
    reasons: ['DELETE without WHERE touches every row'],
    purpose: 'churn study',
    created_at: 1764380000.5,
    expires_at: 1764383600.5,
    required_approvals: 1,
    approver_group: [],
    state: 'pending',
    decisions: [],
    approvers: [],
    basis: null,
    justification: null,
    unmask_columns: [],
    unmask_entities: [],
    rejected_by: null,
    reject_reason: null,
    grant_id: null,
    used_by_execution: null,
    execution_id: 'exe-1',
    updated_at: 1764380000.5,
    statement_types: ['DELETE'],
    tables_read: [],
    tables_written: ['customers'],
    tables: ['customers'],
    columns: [],
    masking: {},
    ...overrides
  };
}

/** A row of the provenance `executions` view (JSON lists kept as text). */
export function executionRow(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'exe-1',
    started_at: '2026-11-28 10:15:00.123456',
    user_name: 'ana',
    notebook: 'work/churn.ipynb',
    cell_id: 'cell-a',
    execution_count: 3,
    purpose: 'churn study',
    legal_basis: 'legitimate_interests',
    kind: 'sql',
    target: 'prod',
    code_masked: 'SELECT email FROM customers',
    tables_read: '["customers"]',
    tables_written: '[]',
    columns_read: '["email"]',
    columns_written: '[]',
    verdict: 'allow',
    rule_ids: '[]',
    approval_id: null,
    ended_at: '2026-11-28 10:15:01',
    status: 'ok',
    rows_returned: 12,
    entity_counts: '{"EMAIL_ADDRESS": 12}',
    error_masked: null,
    ...overrides
  };
}
