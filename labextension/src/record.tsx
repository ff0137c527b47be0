import { Dialog, showDialog } from '@jupyterlab/apputils';
import { ReactWidget } from '@jupyterlab/ui-components';
import React from 'react';

import { maskedSummary } from './audit';
import { NbwardenClient } from './api';
import { Execution, formatTime } from './model';
import { errorMessage } from './widgets';

export function ExecutionDetails(props: { execution: Execution }): JSX.Element {
  const row = props.execution;
  const facts: [string, string][] = [
    ['Record', row.id],
    ['Status', row.status],
    ['Verdict', row.action],
    ['Rules', row.rules.join(', ')],
    ['User', row.user],
    ['Connection', row.connection],
    ['Purpose', row.purpose],
    ['Legal basis', row.legalBasis],
    ['Approval', row.approvalId],
    ['Notebook', row.notebook],
    ['Cell', row.cellId],
    ['Tables', row.tables.join(', ')],
    ['Columns', row.columns.join(', ')],
    ['Rows', row.rows === null ? '' : String(row.rows)],
    ['Masked', maskedSummary(row.entityCounts)],
    ['Started', formatTime(row.startedAt)],
    ['Ended', formatTime(row.endedAt)],
    ['Error', row.error]
  ];
  return (
    <div className="nbw-record">
      <dl className="nbw-facts">
        {facts
          .filter(([, value]) => value !== '')
          .map(([name, value]) => (
            <React.Fragment key={name}>
              <dt>{name}</dt>
              <dd>{value}</dd>
            </React.Fragment>
          ))}
      </dl>
      <pre className="nbw-code">{row.code}</pre>
    </div>
  );
}

/** Show one provenance record (masked code and metadata) in a dialog. */
export async function showExecutionRecord(
  client: NbwardenClient,
  executionId: string
): Promise<void> {
  let body: ReactWidget;
  try {
    const execution = await client.execution(executionId);
    body = ReactWidget.create(<ExecutionDetails execution={execution} />);
  } catch (error) {
    body = ReactWidget.create(<p className="nbw-error">{errorMessage(error)}</p>);
  }
  await showDialog({
    title: 'nbwarden provenance record',
    body,
    buttons: [Dialog.okButton({ label: 'Close' })]
  });
}
