/**
 * Plain views of what the gateway returns, and the functions that build them.
 *
 * The gateway's records come from several packages (approvals, provenance) whose field
 * names differ a little (`target` or `connection`, JSON lists stored as text); the panels
 * only ever see these normalised shapes.
 */

export type RawRecord = Record<string, unknown>;

export interface Approval {
  id: string;
  state: string;
  kind: string;
  requester: string;
  connection: string;
  purpose: string;
  code: string;
  rules: string[];
  reasons: string[];
  tables: string[];
  columns: string[];
  statementTypes: string[];
  /** Masking that would apply, as "column: ENTITY" lines, when the gateway predicts it. */
  masking: string[];
  /** Entity types the masking prediction names, for the unmask entities picker. */
  predictedEntities: string[];
  /** The code fragments the policy rules matched, when the gateway reports them. */
  matched: string[];
  createdAt: Date | null;
  expiresAt: Date | null;
  approvers: string[];
  basis: string;
  justification: string;
  rejectReason: string;
  executionId: string;
}

/** A time-boxed grant as Grant.to_dict() returns it. */
export interface Grant {
  id: string;
  user: string;
  connection: string;
  rules: string[];
  startsAt: Date | null;
  endsAt: Date | null;
  grantedBy: string;
  basis: string;
  state: string;
  unmaskColumns: string[];
  unmaskEntities: string[];
}

export interface Execution {
  id: string;
  user: string;
  status: string;
  action: string;
  kind: string;
  connection: string;
  purpose: string;
  notebook: string;
  cellId: string;
  executionCount: number | null;
  code: string;
  tables: string[];
  columns: string[];
  rules: string[];
  rows: number | null;
  entityCounts: Record<string, number>;
  approvalId: string;
  legalBasis: string;
  startedAt: Date | null;
  endedAt: Date | null;
  error: string;
}

export interface DayCount {
  day: string;
  status: string;
  count: number;
}

/** Seconds from an approval request to its decision, over all decided requests. */
export interface Turnaround {
  decided: number;
  median: number | null;
  max: number | null;
}

export interface Stats {
  perDay: DayCount[];
  maskedByEntity: Record<string, number>;
  turnaround: Turnaround;
}

/** GDPR Art. 6(1) lawful bases, keyed as the gateway expects them. */
export const LEGAL_BASES: { key: string; label: string }[] = [
  { key: 'consent', label: 'Art. 6(1)(a) consent of the data subject' },
  { key: 'contract', label: 'Art. 6(1)(b) performance of a contract' },
  { key: 'legal_obligation', label: 'Art. 6(1)(c) compliance with a legal obligation' },
  { key: 'vital_interests', label: 'Art. 6(1)(d) vital interests of a person' },
  { key: 'public_task', label: 'Art. 6(1)(e) public task or official authority' },
  { key: 'legitimate_interests', label: 'Art. 6(1)(f) legitimate interests of the controller' }
];

/** What a masking prediction says when no column-name hint applies. */
export const CHECKED_BY_CONTENT = 'checked by content';

/** Entity types of the default masking profile an approver may ask to unmask. */
export const ENTITY_TYPES: string[] = [
  'PERSON',
  'EMAIL_ADDRESS',
  'PHONE_NUMBER',
  'STREET_ADDRESS',
  'DATE_OF_BIRTH',
  'IP_ADDRESS',
  'MAC_ADDRESS',
  'IBAN_CODE',
  'CREDIT_CARD',
  'NATIONAL_ID',
  'PATIENT_ID',
  'USER_NAME',
  'AT_SVNR',
  'BE_NATIONAL_NUMBER',
  'DE_TAX_ID',
  'DK_CPR',
  'ES_NIE',
  'ES_NIF',
  'FI_HETU',
  'FR_NIR',
  'IE_PPSN',
  'IT_FISCAL_CODE',
  'NL_BSN',
  'PL_PESEL',
  'PT_NIF',
  'SE_PERSONNUMMER',
  'UK_NHS',
  'UK_NINO',
  'US_SSN'
];

export function text(value: unknown): string {
  if (value === null || value === undefined) {
    return '';
  }
  return typeof value === 'string' ? value : String(value);
}

/** A list of strings, also when the store kept it as JSON text. */
export function textList(value: unknown): string[] {
  const parsed = typeof value === 'string' ? parseJson(value) : value;
  if (Array.isArray(parsed)) {
    return parsed.map(text).filter(item => item !== '');
  }
  if (typeof value === 'string' && value !== '') {
    return [value];
  }
  return [];
}

/** A {name: count} map, also when the store kept it as JSON text. */
export function countMap(value: unknown): Record<string, number> {
  const parsed = typeof value === 'string' ? parseJson(value) : value;
  const counts: Record<string, number> = {};
  if (isRecord(parsed)) {
    for (const [key, count] of Object.entries(parsed)) {
      const number = Number(count);
      if (Number.isFinite(number)) {
        counts[key] = number;
      }
    }
  }
  return counts;
}

/** A date from epoch seconds or an ISO string (naive strings are UTC, as the store writes). */
export function toDate(value: unknown): Date | null {
  if (typeof value === 'number' && Number.isFinite(value) && value > 0) {
    return new Date(value * 1000);
  }
  if (typeof value === 'string' && value !== '') {
    const iso = /[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : `${value.replace(' ', 'T')}Z`;
    const date = new Date(iso);
    return Number.isNaN(date.getTime()) ? null : date;
  }
  return null;
}

export function totalCount(counts: Record<string, number>): number {
  return Object.values(counts).reduce((sum, count) => sum + count, 0);
}

export function normalizeApproval(raw: RawRecord): Approval {
  const verdict = isRecord(raw.verdict) ? raw.verdict : {};
  const decisions = Array.isArray(raw.decisions) ? raw.decisions.filter(isRecord) : [];
  const approvers = textList(raw.approvers);
  return {
    id: text(raw.id),
    state: text(raw.state) || 'pending',
    kind: text(raw.kind) || 'sql',
    requester: text(raw.requester),
    connection: text(raw.connection ?? raw.target),
    purpose: text(raw.purpose),
    code: text(raw.code_masked ?? raw.code),
    rules: textList(raw.rules ?? verdict.rules),
    reasons: textList(raw.reasons ?? verdict.reasons),
    tables: unique([
      ...textList(raw.tables ?? verdict.tables_read),
      ...textList(raw.tables_written ?? verdict.tables_written)
    ]),
    columns: textList(raw.columns ?? verdict.columns_read),
    statementTypes: textList(raw.statement_types ?? verdict.statement_types),
    masking: maskingLines(raw.masking),
    predictedEntities: predictedEntities(raw.masking),
    matched: textList(raw.matched ?? verdict.matched),
    createdAt: toDate(raw.created_at),
    expiresAt: toDate(raw.expires_at),
    approvers: approvers.length > 0 ? approvers : decisions.map(d => text(d.approver)),
    basis: text(raw.basis),
    justification: text(raw.justification),
    rejectReason: text(raw.reject_reason ?? raw.reason),
    executionId: text(raw.execution_id)
  };
}

export function normalizeGrant(raw: RawRecord): Grant {
  return {
    id: text(raw.id),
    user: text(raw.user),
    connection: text(raw.connection ?? raw.target),
    rules: textList(raw.rules),
    startsAt: toDate(raw.starts_at),
    endsAt: toDate(raw.ends_at),
    grantedBy: text(raw.granted_by),
    basis: text(raw.basis),
    state: text(raw.state) || 'active',
    unmaskColumns: textList(raw.unmask_columns),
    unmaskEntities: textList(raw.unmask_entities)
  };
}

export function normalizeExecution(raw: RawRecord): Execution {
  const verdict = raw.verdict;
  const action = isRecord(verdict) ? text(verdict.action) : text(raw.action ?? verdict);
  const count = raw.execution_count;
  const rows = raw.rows_returned ?? raw.rows;
  return {
    id: text(raw.id ?? raw.execution_id),
    user: text(raw.user ?? raw.user_name),
    status: text(raw.status) || 'started',
    action,
    kind: text(raw.kind),
    connection: text(raw.connection ?? raw.target),
    purpose: text(raw.purpose),
    notebook: text(raw.notebook),
    cellId: text(raw.cell_id),
    executionCount: typeof count === 'number' ? count : null,
    code: text(raw.code_masked ?? raw.masked_code ?? raw.code),
    tables: unique([
      ...textList(raw.tables),
      ...textList(raw.tables_read),
      ...textList(raw.tables_written)
    ]),
    columns: unique([...textList(raw.columns_read), ...textList(raw.columns_written)]),
    rules: textList(raw.rule_ids ?? raw.rules),
    rows: typeof rows === 'number' ? rows : null,
    entityCounts: countMap(raw.entity_counts),
    approvalId: text(raw.approval_id),
    legalBasis: text(raw.legal_basis),
    startedAt: toDate(raw.started_at),
    endedAt: toDate(raw.ended_at),
    error: text(raw.error_masked ?? raw.error)
  };
}

/** Accepts the shapes the store may give: lists of rows or nested maps. */
export function normalizeStats(raw: RawRecord): Stats {
  return {
    perDay: dayCounts(raw.executions_per_day ?? raw.per_day),
    maskedByEntity: entityTotals(raw.masked_by_entity ?? raw.masked_entities),
    turnaround: turnaround(raw.approval_turnaround_s ?? raw.approval_turnaround)
  };
}

function dayCounts(value: unknown): DayCount[] {
  const found: DayCount[] = [];
  if (Array.isArray(value)) {
    for (const row of value.filter(isRecord)) {
      found.push({
        day: text(row.day ?? row.date).slice(0, 10),
        status: text(row.status) || 'unknown',
        count: Number(row.count ?? row.n ?? 0)
      });
    }
  } else if (isRecord(value)) {
    for (const [day, byStatus] of Object.entries(value)) {
      for (const [status, count] of Object.entries(countMap(byStatus))) {
        found.push({ day: day.slice(0, 10), status, count });
      }
    }
  }
  return found.filter(row => row.day !== '' && Number.isFinite(row.count));
}

function entityTotals(value: unknown): Record<string, number> {
  if (Array.isArray(value)) {
    const totals: Record<string, number> = {};
    for (const row of value.filter(isRecord)) {
      const name = text(row.entity_type ?? row.entity);
      totals[name] = (totals[name] ?? 0) + Number(row.count ?? 0);
    }
    return totals;
  }
  return countMap(value);
}

/** A summary `{decided, median, max}` as the store gives it, or a list of samples. */
function turnaround(value: unknown): Turnaround {
  if (Array.isArray(value)) {
    const samples = value
      .map(item => (isRecord(item) ? Number(item.seconds) : Number(item)))
      .filter(seconds => Number.isFinite(seconds) && seconds >= 0);
    return {
      decided: samples.length,
      median: median(samples),
      max: samples.length > 0 ? Math.max(...samples) : null
    };
  }
  const summary = isRecord(value) ? value : {};
  const seconds = (field: unknown): number | null =>
    field === null || field === undefined || !Number.isFinite(Number(field)) ? null : Number(field);
  return {
    decided: Number(summary.decided ?? 0) || 0,
    median: seconds(summary.median),
    max: seconds(summary.max)
  };
}

function maskingLines(value: unknown): string[] {
  if (Array.isArray(value)) {
    return textList(value);
  }
  if (isRecord(value)) {
    return Object.entries(value).map(([column, entities]) => {
      return `${column}: ${textList(entities).join(', ')}`;
    });
  }
  return [];
}

/** The entity types a `{column: ENTITY}` prediction names, without "checked by content". */
function predictedEntities(value: unknown): string[] {
  if (!isRecord(value)) {
    return [];
  }
  const named = Object.values(value).flatMap(textList);
  return unique(named.filter(entity => entity !== CHECKED_BY_CONTENT));
}

function unique(items: string[]): string[] {
  return [...new Set(items)];
}

function parseJson(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    return undefined;
  }
}

export function isRecord(value: unknown): value is RawRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function median(values: number[]): number | null {
  if (values.length === 0) {
    return null;
  }
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export function formatDuration(seconds: number): string {
  if (seconds < 90) {
    return `${Math.round(seconds)} s`;
  }
  if (seconds < 5400) {
    return `${Math.round(seconds / 60)} min`;
  }
  return `${(seconds / 3600).toFixed(1)} h`;
}

export function formatTime(date: Date | null): string {
  return date ? date.toISOString().replace('T', ' ').slice(0, 19) + ' UTC' : '';
}
