import { ReactWidget } from '@jupyterlab/ui-components';
import { ISignal, Signal } from '@lumino/signaling';
import React, { useCallback, useEffect, useState } from 'react';

import { NbwardenClient } from './api';
import { GovernanceEvents } from './events';
import { flaggedTerms, highlightSegments } from './highlight';
import { Approval, ENTITY_TYPES, formatTime, Grant, LEGAL_BASES } from './model';
import { ErrorNote, errorMessage } from './widgets';

export function HighlightedCode(props: { approval: Approval }): JSX.Element {
  const { approval } = props;
  const terms =
    approval.matched.length > 0 ? approval.matched : flaggedTerms(approval.rules, approval.tables);
  const segments = highlightSegments(approval.code, terms);
  return (
    <pre className="nbw-code" aria-label="Held code, flagged parts marked">
      {segments.map((segment, index) =>
        segment.flagged ? (
          <mark key={index} className="nbw-flagged">
            {segment.text}
          </mark>
        ) : (
          <React.Fragment key={index}>{segment.text}</React.Fragment>
        )
      )}
    </pre>
  );
}

function ListOrNone(props: { items: string[]; none: string }): JSX.Element {
  if (props.items.length === 0) {
    return <span className="nbw-muted">{props.none}</span>;
  }
  return <span>{props.items.join(', ')}</span>;
}

export interface DecisionProps {
  approval: Approval;
  client: NbwardenClient;
  onDecided: (approval: Approval) => void;
}

/** The approve / reject form of one pending request. */
export function DecisionForm(props: DecisionProps): JSX.Element {
  const { approval, client, onDecided } = props;
  const [basis, setBasis] = useState('');
  const [justification, setJustification] = useState('');
  const [unmask, setUnmask] = useState('');
  const [unmaskEntities, setUnmaskEntities] = useState<string[]>([]);
  const [grant, setGrant] = useState(false);
  const [grantMinutes, setGrantMinutes] = useState(30);
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const prefix = `nbw-${approval.id}`;

  const decide = async (action: () => Promise<Approval>): Promise<void> => {
    setBusy(true);
    setError('');
    try {
      onDecided(await action());
    } catch (reason) {
      setError(errorMessage(reason));
    } finally {
      setBusy(false);
    }
  };
  const unmaskColumns = unmask
    .split(',')
    .map(column => column.trim())
    .filter(column => column !== '');
  const approve = (): Promise<void> =>
    decide(() =>
      client.approve(approval.id, {
        basis,
        justification: justification.trim(),
        unmask_columns: unmaskColumns,
        unmask_entities: unmaskEntities,
        grant_minutes: grant ? grantMinutes : null
      })
    );
  const reject = (): Promise<void> => decide(() => client.reject(approval.id, reason.trim()));
  const needsJustification = grant || unmaskColumns.length > 0 || unmaskEntities.length > 0;
  const entityChoices = [...new Set([...approval.predictedEntities, ...ENTITY_TYPES])];
  const canApprove = basis !== '' && (!needsJustification || justification.trim() !== '');

  return (
    <div className="nbw-decision">
      <label htmlFor={`${prefix}-basis`}>Legal basis (GDPR Art. 6)</label>
      <select
        id={`${prefix}-basis`}
        className="nbw-basis"
        value={basis}
        onChange={event => setBasis(event.target.value)}
      >
        <option value="">Choose a legal basis…</option>
        {LEGAL_BASES.map(option => (
          <option key={option.key} value={option.key}>
            {option.label}
          </option>
        ))}
      </select>
      <label htmlFor={`${prefix}-justification`}>
        Justification{needsJustification ? ' (required to unmask or grant)' : ''}
      </label>
      <textarea
        id={`${prefix}-justification`}
        className="nbw-justification"
        rows={2}
        value={justification}
        onChange={event => setJustification(event.target.value)}
      />
      <label htmlFor={`${prefix}-unmask`}>Unmask columns (comma-separated, optional)</label>
      <input
        id={`${prefix}-unmask`}
        className="nbw-unmask"
        type="text"
        value={unmask}
        placeholder={approval.columns.slice(0, 3).join(', ')}
        onChange={event => setUnmask(event.target.value)}
      />
      <label htmlFor={`${prefix}-unmask-entities`}>Unmask entity types (optional)</label>
      <select
        id={`${prefix}-unmask-entities`}
        className="nbw-unmask-entities"
        multiple
        size={4}
        value={unmaskEntities}
        onChange={event =>
          setUnmaskEntities(Array.from(event.target.selectedOptions, option => option.value))
        }
      >
        {entityChoices.map(entity => (
          <option key={entity} value={entity}>
            {entity}
            {approval.predictedEntities.includes(entity) ? ' (predicted here)' : ''}
          </option>
        ))}
      </select>
      <div className="nbw-row">
        <input
          id={`${prefix}-grant`}
          type="checkbox"
          checked={grant}
          onChange={event => setGrant(event.target.checked)}
        />
        <label htmlFor={`${prefix}-grant`}>Also grant time-boxed access for</label>
        <input
          aria-label="Grant minutes"
          className="nbw-minutes"
          type="number"
          min={1}
          max={480}
          disabled={!grant}
          value={grantMinutes}
          onChange={event => setGrantMinutes(Number(event.target.value))}
        />
        <span>minutes</span>
      </div>
      <div className="nbw-row">
        <button
          type="button"
          className="jp-mod-styled jp-mod-accept nbw-approve"
          disabled={busy || !canApprove}
          onClick={approve}
        >
          Approve
        </button>
      </div>
      <label htmlFor={`${prefix}-reason`}>Reason for rejecting</label>
      <div className="nbw-row">
        <input
          id={`${prefix}-reason`}
          className="nbw-reason"
          type="text"
          value={reason}
          onChange={event => setReason(event.target.value)}
        />
        <button
          type="button"
          className="jp-mod-styled jp-mod-reject nbw-reject"
          disabled={busy || reason.trim() === ''}
          onClick={reject}
        >
          Reject
        </button>
      </div>
      <ErrorNote message={error} />
    </div>
  );
}

export function ApprovalCard(props: DecisionProps): JSX.Element {
  const { approval } = props;
  return (
    <article className="nbw-card" aria-label={`Approval request ${approval.id}`}>
      <header className="nbw-card-header">
        <strong>{approval.requester}</strong> on <code>{approval.connection}</code>
        <span className="nbw-muted"> · {formatTime(approval.createdAt)}</span>
      </header>
      <dl className="nbw-facts">
        <dt>Purpose</dt>
        <dd>{approval.purpose || <span className="nbw-muted">none declared</span>}</dd>
        <dt>Rules</dt>
        <dd>
          <ul className="nbw-reasons">
            {approval.rules.map((rule, index) => (
              <li key={rule}>
                <code>{rule}</code>: {approval.reasons[index] ?? ''}
              </li>
            ))}
          </ul>
        </dd>
        <dt>Statements</dt>
        <dd>
          <ListOrNone items={approval.statementTypes} none="not reported" />
        </dd>
        <dt>Tables</dt>
        <dd>
          <ListOrNone items={approval.tables} none="not reported" />
        </dd>
        <dt>Columns</dt>
        <dd>
          <ListOrNone items={approval.columns} none="not reported" />
        </dd>
        <dt>Masking</dt>
        <dd>
          <ListOrNone
            items={approval.masking}
            none="the profile's masking applies to every result"
          />
        </dd>
      </dl>
      <HighlightedCode approval={approval} />
      <DecisionForm {...props} />
    </article>
  );
}

export interface GrantsViewProps {
  client: NbwardenClient;
  events: GovernanceEvents;
}

/** Active time-boxed grants, each with a revoke button. */
export function GrantsView(props: GrantsViewProps): JSX.Element {
  const { client, events } = props;
  const [grants, setGrants] = useState<Grant[] | null>(null);
  const [error, setError] = useState('');

  const load = useCallback(async () => {
    try {
      setGrants(await client.grants(true));
      setError('');
    } catch (reason) {
      setError(errorMessage(reason));
    }
  }, [client]);

  useEffect(() => {
    void load();
    const reload = (): void => void load();
    events.approvalChanged.connect(reload);
    return () => {
      events.approvalChanged.disconnect(reload);
    };
  }, [events, load]);

  const revoke = async (grant: Grant): Promise<void> => {
    try {
      await client.revokeGrant(grant.id);
    } catch (reason) {
      setError(errorMessage(reason));
      return;
    }
    await load();
  };

  return (
    <section className="nbw-grants" aria-label="Active grants">
      <h3>Active grants</h3>
      <ErrorNote message={error} />
      {grants !== null && grants.length === 0 && <p className="nbw-muted">No grant is active.</p>}
      {grants !== null && grants.length > 0 && (
        <table className="nbw-table">
          <thead>
            <tr>
              <th>User</th>
              <th>Connection</th>
              <th>Rules</th>
              <th>From</th>
              <th>Until</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {grants.map(grant => (
              <tr key={grant.id} aria-label={`Grant ${grant.id}`}>
                <td>{grant.user}</td>
                <td>
                  <code>{grant.connection}</code>
                </td>
                <td>
                  <ListOrNone items={grant.rules} none="every flag rule" />
                </td>
                <td>{formatTime(grant.startsAt)}</td>
                <td>{formatTime(grant.endsAt)}</td>
                <td>
                  <button
                    type="button"
                    className="jp-mod-styled jp-mod-warn nbw-revoke"
                    onClick={() => void revoke(grant)}
                  >
                    Revoke
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

export interface ApprovalsViewProps {
  client: NbwardenClient;
  events: GovernanceEvents;
  onCount: (count: number) => void;
}

export function ApprovalsView(props: ApprovalsViewProps): JSX.Element {
  const { client, events, onCount } = props;
  const [pending, setPending] = useState<Approval[] | null>(null);
  const [error, setError] = useState('');
  const [notice, setNotice] = useState('');

  const load = useCallback(async () => {
    try {
      const found = await client.approvals('pending');
      setPending(found);
      setError('');
      onCount(found.length);
    } catch (reason) {
      setError(errorMessage(reason));
    }
  }, [client, onCount]);

  useEffect(() => {
    void load();
    const reload = (): void => void load();
    events.approvalChanged.connect(reload);
    return () => {
      events.approvalChanged.disconnect(reload);
    };
  }, [events, load]);

  const decided = (approval: Approval): void => {
    setNotice(`Request ${approval.id} is ${approval.state}.`);
    void load();
  };

  return (
    <div className="nbw-panel nbw-approvals">
      <div className="nbw-toolbar">
        <h2>Approvals</h2>
        <span className="nbw-count" aria-live="polite">
          {pending === null ? '…' : `${pending.length} pending`}
        </span>
        <button type="button" className="jp-mod-styled" onClick={() => void load()}>
          Refresh
        </button>
      </div>
      <p className="nbw-notice" role="status">
        {notice}
      </p>
      <ErrorNote message={error} />
      {pending !== null && pending.length === 0 && (
        <p className="nbw-muted">Nothing is waiting for approval.</p>
      )}
      {(pending ?? []).map(approval => (
        <ApprovalCard key={approval.id} approval={approval} client={client} onDecided={decided} />
      ))}
      <GrantsView client={client} events={events} />
    </div>
  );
}

/** The approvals side panel; `countChanged` drives the badge on its tab. */
export class ApprovalsPanel extends ReactWidget {
  private readonly _countChanged = new Signal<this, number>(this);

  constructor(
    private readonly client: NbwardenClient,
    private readonly events: GovernanceEvents
  ) {
    super();
    this.id = 'nbwarden-approvals';
    this.addClass('nbw-panel-widget');
  }

  get countChanged(): ISignal<this, number> {
    return this._countChanged;
  }

  private readonly setCount = (count: number): void => {
    this.title.dataset = { ...this.title.dataset, 'nbw-pending': String(count) };
    this.title.caption = `Approvals: ${count} pending`;
    this._countChanged.emit(count);
  };

  render(): JSX.Element {
    return <ApprovalsView client={this.client} events={this.events} onCount={this.setCount} />;
  }
}
