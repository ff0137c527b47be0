import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import {
  Approval,
  Execution,
  Grant,
  isRecord,
  normalizeApproval,
  normalizeExecution,
  normalizeGrant,
  normalizeStats,
  RawRecord,
  Stats
} from './model';

/** Base path of the gateway REST API, relative to the Jupyter server's base URL. */
export const API_PATH = 'nbwarden/api';

export interface WhoAmI {
  user: string;
  roles: string[];
}

export interface ApproveRequest {
  basis: string;
  justification: string;
  unmask_columns: string[];
  unmask_entities: string[];
  grant_minutes: number | null;
}

export interface ExecutionFilters {
  user?: string;
  connection?: string;
  table?: string;
  since?: string;
  until?: string;
  status?: string;
  notebook?: string;
}

export interface DsarQuery {
  email?: string;
  phone?: string;
  name?: string;
  ids?: Record<string, string>;
}

export interface VerifyReport {
  ok: boolean;
  checked: number;
  first_bad: string | null;
  problem: string | null;
}

export interface ConnectionInfo {
  name: string;
  dialect?: string;
  kind?: string;
}

/** An API call failed; `message` is the gateway's safe message, never a raw body dump. */
export class NbwardenApiError extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.name = 'NbwardenApiError';
    this.status = status;
  }
}

/** Typed client for the gateway's REST API; XSRF and auth come from the Jupyter session. */
export class NbwardenClient {
  readonly settings: ServerConnection.ISettings;

  constructor(settings?: ServerConnection.ISettings) {
    this.settings = settings ?? ServerConnection.makeSettings();
  }

  whoami(): Promise<WhoAmI> {
    return this.requestJson<WhoAmI>('whoami');
  }

  /** SQL connections and shell targets: names and dialects only, never URLs. */
  async connections(): Promise<ConnectionInfo[]> {
    const body = await this.requestJson<unknown>('connections');
    const sql = listFrom<ConnectionInfo>(body, 'connections');
    const shell = isRecord(body) && Array.isArray(body.shell) ? body.shell : [];
    return [...sql, ...(shell as ConnectionInfo[])];
  }

  async approvals(state?: string): Promise<Approval[]> {
    const body = await this.requestJson<unknown>(withQuery('approvals', { state }));
    return listFrom<RawRecord>(body, 'approvals').map(normalizeApproval);
  }

  async approval(id: string): Promise<Approval> {
    return normalizeApproval(await this.requestJson<RawRecord>(`approvals/${encode(id)}`));
  }

  async approve(id: string, request: ApproveRequest): Promise<Approval> {
    const body = await this.postJson(`approvals/${encode(id)}/approve`, request);
    return normalizeApproval(body);
  }

  async reject(id: string, reason: string): Promise<Approval> {
    return normalizeApproval(await this.postJson(`approvals/${encode(id)}/reject`, { reason }));
  }

  async withdraw(id: string): Promise<Approval> {
    return normalizeApproval(await this.postJson(`approvals/${encode(id)}/withdraw`, {}));
  }

  async grants(activeOnly = true): Promise<Grant[]> {
    const body = await this.requestJson<unknown>(
      withQuery('grants', { active: activeOnly ? 'true' : undefined })
    );
    return listFrom<RawRecord>(body, 'grants').map(normalizeGrant);
  }

  async revokeGrant(id: string): Promise<Grant> {
    return normalizeGrant(await this.postJson(`grants/${encode(id)}/revoke`, {}));
  }

  async executions(filters: ExecutionFilters = {}): Promise<Execution[]> {
    const body = await this.requestJson<unknown>(withQuery('executions', { ...filters }));
    return listFrom<RawRecord>(body, 'executions').map(normalizeExecution);
  }

  async execution(id: string): Promise<Execution> {
    return normalizeExecution(await this.requestJson<RawRecord>(`executions/${encode(id)}`));
  }

  /** Art. 15 report: one record per execution that returned the subject's data. */
  async dsar(query: DsarQuery): Promise<RawRecord[]> {
    const body = await this.postJson('dsar', query);
    return listFrom<RawRecord>(body, 'executions');
  }

  verify(): Promise<VerifyReport> {
    return this.requestJson<VerifyReport>('audit/verify');
  }

  async stats(): Promise<Stats> {
    return normalizeStats(await this.requestJson<RawRecord>('audit/stats'));
  }

  postJson(path: string, body: object): Promise<RawRecord> {
    return this.requestJson<RawRecord>(path, { method: 'POST', body: JSON.stringify(body) });
  }

  /** Send one request; throw NbwardenApiError on any non-2xx answer. */
  async request(path: string, init: RequestInit = {}): Promise<Response> {
    const url = URLExt.join(this.settings.baseUrl, API_PATH, path);
    const headers = new Headers(init.headers);
    if (init.body !== undefined && !headers.has('Content-Type')) {
      headers.set('Content-Type', 'application/json');
    }
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(url, { ...init, headers }, this.settings);
    } catch (error) {
      throw new NbwardenApiError(
        0,
        `The nbwarden gateway cannot be reached (${errorName(error)}).`
      );
    }
    if (!response.ok) {
      throw new NbwardenApiError(response.status, await safeErrorMessage(response));
    }
    return response;
  }

  async requestJson<T>(path: string, init: RequestInit = {}): Promise<T> {
    const response = await this.request(path, init);
    const text = await response.text();
    if (text === '') {
      return {} as T;
    }
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new NbwardenApiError(response.status, 'The gateway answered with malformed JSON.');
    }
  }
}

/** Append the non-empty parameters as a query string. */
export function withQuery(path: string, params: Record<string, string | undefined>): string {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== '') {
      query.set(key, value);
    }
  }
  const text = query.toString();
  return text === '' ? path : `${path}?${text}`;
}

/** Accept either a bare JSON list or an object wrapping it under `key`. */
export function listFrom<T>(body: unknown, key: string): T[] {
  if (Array.isArray(body)) {
    return body as T[];
  }
  if (isRecord(body)) {
    const inner = body[key] ?? body.items ?? body.results;
    if (Array.isArray(inner)) {
      return inner as T[];
    }
  }
  throw new NbwardenApiError(200, `The gateway answered without a list of ${key}.`);
}

function encode(id: string): string {
  return encodeURIComponent(id);
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : 'network error';
}

const STATUS_MESSAGES: Record<number, string> = {
  401: 'You are not logged in.',
  403: 'Your role does not allow this.',
  404: 'Not found.',
  409: 'The request is no longer in a state that allows this.'
};

/** The gateway's own message if it sent one in JSON, otherwise a generic one per status. */
async function safeErrorMessage(response: Response): Promise<string> {
  let text = '';
  try {
    text = await response.text();
  } catch {
    text = '';
  }
  try {
    const body = JSON.parse(text) as unknown;
    if (isRecord(body)) {
      const message = body.message ?? body.error ?? body.reason;
      if (typeof message === 'string' && message !== '') {
        return message;
      }
    }
  } catch {
    // Not JSON (an HTML error page): fall through to the generic message.
  }
  return STATUS_MESSAGES[response.status] ?? `The gateway answered ${response.status}.`;
}
