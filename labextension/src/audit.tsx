import { ReactWidget } from '@jupyterlab/ui-components';
import React, { useEffect, useState } from 'react';

import { DsarQuery, ExecutionFilters, NbwardenClient, VerifyReport } from './api';
import { ExecutionsPerDayChart, HorizontalBarChart, TurnaroundChart } from './charts';
import { Execution, formatTime, RawRecord, Stats, totalCount } from './model';
import { replayOrder, ReplayCell, SavedOutputs } from './replay';
import {
  cellText,
  downloadText,
  EXPORT_TYPES,
  ExportFormat,
  renderReport,
  reportColumns
} from './report';
import { ErrorNote, errorMessage } from './widgets';

const STATUSES = ['ok', 'pending', 'blocked', 'rejected', 'withheld', 'error', 'cancelled'];

type Tab = 'executions' | 'dsar' | 'verify' | 'replay' | 'charts';

const TABS: { id: Tab; label: string }[] = [
  { id: 'executions', label: 'Executions' },
  { id: 'dsar', label: 'Subject access' },
  { id: 'verify', label: 'Verify chain' },
  { id: 'replay', label: 'Session replay' },
  { id: 'charts', label: 'Charts' }
];

/** Load a saved notebook's governed outputs by execution id (for session replay). */
export type OutputLoader = (notebookPath: string) => Promise<SavedOutputs>;

export interface AuditProps {
  client: NbwardenClient;
  loadOutputs: OutputLoader;
  initialTab?: Tab;
}

function useRunner<T>(): {
  result: T | null;
  error: string;
  busy: boolean;
  run: (work: () => Promise<T>) => Promise<void>;
} {
  const [result, setResult] = useState<T | null>(null);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const run = async (work: () => Promise<T>): Promise<void> => {
    setBusy(true);
    setError('');
    try {
      setResult(await work());
    } catch (reason) {
      setError(errorMessage(reason));
    } finally {
      setBusy(false);
    }
  };
  return { result, error, busy, run };
}

function Field(props: {
  id: string;
  label: string;
  value: string;
  onChange: (value: string) => void;
  type?: string;
}): JSX.Element {
  return (
    <div className="nbw-field">
      <label htmlFor={props.id}>{props.label}</label>
      <input
        id={props.id}
        type={props.type ?? 'text'}
        value={props.value}
        onChange={event => props.onChange(event.target.value)}
      />
    </div>
  );
}

export function maskedSummary(counts: Record<string, number>): string {
  const total = totalCount(counts);
  if (total === 0) {
    return '—';
  }
  const parts = Object.entries(counts)
    .filter(([, count]) => count > 0)
    .map(([name, count]) => `${name} ${count}`);
  return `${total} (${parts.join(', ')})`;
}

export function ExecutionsTable(props: { rows: Execution[] }): JSX.Element {
  if (props.rows.length === 0) {
    return <p className="nbw-muted">No executions match.</p>;
  }
  return (
    <table className="nbw-table">
      <thead>
        <tr>
          <th scope="col">Started</th>
          <th scope="col">User</th>
          <th scope="col">Connection</th>
          <th scope="col">Status</th>
          <th scope="col">Verdict</th>
          <th scope="col">Tables</th>
          <th scope="col">Rows</th>
          <th scope="col">Masked</th>
          <th scope="col">Purpose</th>
        </tr>
      </thead>
      <tbody>
        {props.rows.map(row => (
          <tr key={row.id} title={`execution ${row.id}`}>
            <td>{formatTime(row.startedAt)}</td>
            <td>{row.user}</td>
            <td>{row.connection}</td>
            <td>
              <span className={`nbw-status nbw-status-${row.status}`}>{row.status}</span>
            </td>
            <td>{row.action}</td>
            <td>{row.tables.join(', ')}</td>
            <td>{row.rows ?? ''}</td>
            <td>{maskedSummary(row.entityCounts)}</td>
            <td>{row.purpose}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function ExecutionsSearch(props: { client: NbwardenClient }): JSX.Element {
  const [filters, setFilters] = useState<ExecutionFilters>({});
  const { result, error, busy, run } = useRunner<Execution[]>();
  const set = (name: keyof ExecutionFilters) => (value: string) =>
    setFilters({ ...filters, [name]: value });
  const search = (event: React.FormEvent): void => {
    event.preventDefault();
    void run(() => props.client.executions(filters));
  };
  return (
    <section aria-label="Search executions">
      <form className="nbw-form" onSubmit={search}>
        <Field id="nbw-f-user" label="User" value={filters.user ?? ''} onChange={set('user')} />
        <Field
          id="nbw-f-connection"
          label="Connection"
          value={filters.connection ?? ''}
          onChange={set('connection')}
        />
        <Field id="nbw-f-table" label="Table" value={filters.table ?? ''} onChange={set('table')} />
        <Field
          id="nbw-f-since"
          label="Since"
          type="date"
          value={filters.since ?? ''}
          onChange={set('since')}
        />
        <Field
          id="nbw-f-until"
          label="Until"
          type="date"
          value={filters.until ?? ''}
          onChange={set('until')}
        />
        <div className="nbw-field">
          <label htmlFor="nbw-f-status">Status</label>
          <select
            id="nbw-f-status"
            value={filters.status ?? ''}
            onChange={event => set('status')(event.target.value)}
          >
            <option value="">any</option>
            {STATUSES.map(status => (
              <option key={status} value={status}>
                {status}
              </option>
            ))}
          </select>
        </div>
        <button type="submit" className="jp-mod-styled jp-mod-accept" disabled={busy}>
          Search
        </button>
      </form>
      <ErrorNote message={error} />
      {result && <ExecutionsTable rows={result} />}
    </section>
  );
}

export function dsarQuery(fields: {
  email: string;
  phone: string;
  name: string;
  idType: string;
  idValue: string;
}): DsarQuery {
  const query: DsarQuery = {};
  if (fields.email.trim() !== '') {
    query.email = fields.email.trim();
  }
  if (fields.phone.trim() !== '') {
    query.phone = fields.phone.trim();
  }
  if (fields.name.trim() !== '') {
    query.name = fields.name.trim();
  }
  if (fields.idType.trim() !== '' && fields.idValue.trim() !== '') {
    query.ids = { [fields.idType.trim().toUpperCase()]: fields.idValue.trim() };
  }
  return query;
}

export function DsarReportTable(props: { rows: RawRecord[] }): JSX.Element {
  const columns = reportColumns(props.rows);
  return (
    <table className="nbw-table nbw-dsar-table">
      <thead>
        <tr>
          {columns.map(column => (
            <th key={column} scope="col">
              {column}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {props.rows.map((row, index) => (
          <tr key={index}>
            {columns.map(column => (
              <td key={column}>{cellText(row[column])}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function DsarSearch(props: { client: NbwardenClient }): JSX.Element {
  const [fields, setFields] = useState({ email: '', phone: '', name: '', idType: '', idValue: '' });
  const { result, error, busy, run } = useRunner<RawRecord[]>();
  const [localError, setLocalError] = useState('');
  const set = (name: keyof typeof fields) => (value: string) =>
    setFields({ ...fields, [name]: value });
  const query = dsarQuery(fields);
  const search = (event: React.FormEvent): void => {
    event.preventDefault();
    if (Object.keys(query).length === 0) {
      setLocalError('Enter an e-mail, phone, name or ID.');
      return;
    }
    setLocalError('');
    void run(() => props.client.dsar(query));
  };
  const exportAs = (format: ExportFormat): void => {
    if (result === null) {
      return;
    }
    const stamp = new Date().toISOString().slice(0, 10);
    downloadText(
      renderReport(result, format, 'the identifiers given in the request'),
      `dsar-${stamp}.${format}`,
      EXPORT_TYPES[format]
    );
  };
  return (
    <section aria-label="Subject access request">
      <form className="nbw-form" onSubmit={search} autoComplete="off">
        <Field
          id="nbw-d-email"
          label="E-mail"
          type="email"
          value={fields.email}
          onChange={set('email')}
        />
        <Field id="nbw-d-phone" label="Phone" value={fields.phone} onChange={set('phone')} />
        <Field id="nbw-d-name" label="Name" value={fields.name} onChange={set('name')} />
        <Field
          id="nbw-d-idtype"
          label="ID type (e.g. IBAN_CODE)"
          value={fields.idType}
          onChange={set('idType')}
        />
        <Field id="nbw-d-idvalue" label="ID" value={fields.idValue} onChange={set('idValue')} />
        <button type="submit" className="jp-mod-styled jp-mod-accept nbw-dsar-run" disabled={busy}>
          Run DSAR
        </button>
      </form>
      <ErrorNote message={localError || error} />
      {result && (
        <div className="nbw-dsar-result">
          <p role="status">
            {result.length} execution{result.length === 1 ? '' : 's'} returned this subject's data.
          </p>
          <div className="nbw-row">
            {(['json', 'csv', 'html'] as ExportFormat[]).map(format => (
              <button
                key={format}
                type="button"
                className={`jp-mod-styled nbw-export-${format}`}
                onClick={() => exportAs(format)}
              >
                Export {format.toUpperCase()}
              </button>
            ))}
          </div>
          {result.length > 0 && <DsarReportTable rows={result} />}
        </div>
      )}
    </section>
  );
}

export function VerifyChain(props: { client: NbwardenClient }): JSX.Element {
  const { result, error, busy, run } = useRunner<VerifyReport>();
  return (
    <section aria-label="Verify the audit chain">
      <p>Recompute every record's hash and check that each one links to the one before.</p>
      <button
        type="button"
        className="jp-mod-styled jp-mod-accept nbw-verify"
        disabled={busy}
        onClick={() => void run(() => props.client.verify())}
      >
        {busy ? 'Verifying…' : 'Verify chain'}
      </button>
      <ErrorNote message={error} />
      {result && (
        <p className={result.ok ? 'nbw-ok' : 'nbw-error'} role="status">
          {result.ok
            ? `Intact: ${result.checked} records checked.`
            : `Broken at record ${result.first_bad ?? '?'}: ${result.problem ?? 'unknown problem'} ` +
              `(${result.checked} records checked).`}
        </p>
      )}
    </section>
  );
}

function ReplayCellView(props: { cell: ReplayCell }): JSX.Element {
  const { execution, output } = props.cell;
  return (
    <article className="nbw-replay-cell" aria-label={`Cell ${execution.executionCount ?? ''}`}>
      <header>
        <span className="nbw-prompt">[{execution.executionCount ?? ' '}]</span>{' '}
        <span className={`nbw-status nbw-status-${execution.status}`}>{execution.status}</span>{' '}
        verdict {execution.action || '?'} · {execution.user} · {execution.connection} ·{' '}
        {formatTime(execution.startedAt)}
        {execution.legalBasis && ` · basis ${execution.legalBasis}`}
      </header>
      <pre className="nbw-code">{execution.code}</pre>
      <p className="nbw-muted">
        {execution.rows ?? 0} rows · masked {maskedSummary(execution.entityCounts)}
        {execution.error && ` · ${execution.error}`}
      </p>
      {output ? (
        <pre className="nbw-output">{output}</pre>
      ) : (
        <p className="nbw-muted">No saved output for this execution in the notebook file.</p>
      )}
    </article>
  );
}

export function SessionReplay(props: {
  client: NbwardenClient;
  loadOutputs: OutputLoader;
}): JSX.Element {
  const [notebook, setNotebook] = useState('');
  const [user, setUser] = useState('');
  const { result, error, busy, run } = useRunner<ReplayCell[]>();
  const replay = (event: React.FormEvent): void => {
    event.preventDefault();
    void run(async () => {
      const executions = await props.client.executions(user === '' ? {} : { user });
      let outputs: SavedOutputs = {};
      try {
        outputs = await props.loadOutputs(notebook);
      } catch {
        outputs = {};
      }
      return replayOrder(executions, notebook, outputs);
    });
  };
  return (
    <section aria-label="Session replay">
      <form className="nbw-form" onSubmit={replay}>
        <Field id="nbw-r-notebook" label="Notebook path" value={notebook} onChange={setNotebook} />
        <Field id="nbw-r-user" label="User (optional)" value={user} onChange={setUser} />
        <button
          type="submit"
          className="jp-mod-styled jp-mod-accept"
          disabled={busy || notebook === ''}
        >
          Replay
        </button>
      </form>
      <ErrorNote message={error} />
      {result && result.length === 0 && (
        <p className="nbw-muted">No governed cells recorded for this notebook.</p>
      )}
      {(result ?? []).map(cell => (
        <ReplayCellView key={cell.execution.id} cell={cell} />
      ))}
    </section>
  );
}

export function AuditCharts(props: { client: NbwardenClient }): JSX.Element {
  const { result, error, run } = useRunner<Stats>();
  const { client } = props;
  useEffect(() => {
    void run(() => client.stats());
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [client]);
  return (
    <section aria-label="Charts" className="nbw-charts">
      <ErrorNote message={error} />
      {result && (
        <>
          <h3>Executions per day by status</h3>
          <ExecutionsPerDayChart rows={result.perDay} />
          <h3>Masked values by entity type</h3>
          <HorizontalBarChart values={result.maskedByEntity} label="Masked values by entity type" />
          <h3>Approval turnaround</h3>
          <TurnaroundChart turnaround={result.turnaround} />
        </>
      )}
    </section>
  );
}

export function AuditView(props: AuditProps): JSX.Element {
  const [tab, setTab] = useState<Tab>(props.initialTab ?? 'executions');
  const onKey = (event: React.KeyboardEvent, index: number): void => {
    const step = event.key === 'ArrowRight' ? 1 : event.key === 'ArrowLeft' ? -1 : 0;
    if (step !== 0) {
      const next = TABS[(index + step + TABS.length) % TABS.length];
      setTab(next.id);
      document.getElementById(`nbw-tab-${next.id}`)?.focus();
    }
  };
  return (
    <div className="nbw-panel nbw-audit">
      <h2>Audit</h2>
      <div role="tablist" aria-label="Audit sections" className="nbw-tabs">
        {TABS.map((item, index) => (
          <button
            key={item.id}
            id={`nbw-tab-${item.id}`}
            type="button"
            role="tab"
            aria-selected={tab === item.id}
            aria-controls={`nbw-tabpanel-${item.id}`}
            tabIndex={tab === item.id ? 0 : -1}
            className="nbw-tab"
            onClick={() => setTab(item.id)}
            onKeyDown={event => onKey(event, index)}
          >
            {item.label}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`nbw-tabpanel-${tab}`} aria-labelledby={`nbw-tab-${tab}`}>
        {tab === 'executions' && <ExecutionsSearch client={props.client} />}
        {tab === 'dsar' && <DsarSearch client={props.client} />}
        {tab === 'verify' && <VerifyChain client={props.client} />}
        {tab === 'replay' && (
          <SessionReplay client={props.client} loadOutputs={props.loadOutputs} />
        )}
        {tab === 'charts' && <AuditCharts client={props.client} />}
      </div>
    </div>
  );
}

export class AuditPanel extends ReactWidget {
  constructor(private readonly props: AuditProps) {
    super();
    this.id = 'nbwarden-audit';
    this.addClass('nbw-panel-widget');
    this.title.label = 'Audit';
    this.title.closable = true;
  }

  render(): JSX.Element {
    return <AuditView {...this.props} />;
  }
}
