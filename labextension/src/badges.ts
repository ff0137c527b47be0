import { Cell, CodeCell } from '@jupyterlab/cells';
import { NotebookPanel } from '@jupyterlab/notebook';
import { Signal } from '@lumino/signaling';

import { NbwardenClient } from './api';
import { Approval, Execution, isRecord, text, totalCount } from './model';

/** What the kernel writes into a governed output's `metadata.nbwarden`. */
export interface CellGovernance {
  executionId: string;
  approvalId: string;
  status: string;
}

export interface Badge {
  label: string;
  /** CSS modifier: allowed, masked, pending, approved, blocked, withheld, error, running. */
  kind: string;
  title: string;
}

/** The last governed output of a cell decides its badge; none means not governed. */
export function governanceOf(outputs: { metadata: unknown }[]): CellGovernance | null {
  const metas = outputs
    .map(output => (isRecord(output.metadata) ? output.metadata.nbwarden : undefined))
    .filter(isRecord);
  if (metas.length === 0) {
    return null;
  }
  const lastOf = (key: string): string =>
    metas
      .map(meta => text(meta[key]))
      .filter(value => value !== '')
      .pop() ?? '';
  return {
    executionId: lastOf('execution_id'),
    approvalId: lastOf('approval_id'),
    status: text(metas[metas.length - 1].status) || 'running'
  };
}

export function badgeFor(
  governance: CellGovernance,
  execution: Execution | null,
  approval: Approval | null
): Badge {
  const masked = execution ? totalCount(execution.entityCounts) : 0;
  const approvers = approval?.approvers.filter(name => name !== '') ?? [];
  const record = governance.executionId
    ? `provenance record ${governance.executionId}`
    : 'no provenance record yet';
  switch (governance.status) {
    case 'ok': {
      const parts: string[] = [];
      if (approvers.length > 0) {
        parts.push(`approved by ${approvers.join(', ')}`);
      }
      parts.push(masked > 0 ? `masked ${masked}` : 'allowed');
      const kind = approvers.length > 0 ? 'approved' : masked > 0 ? 'masked' : 'allowed';
      return { label: parts.join(' · '), kind, title: record };
    }
    case 'pending':
      return { label: 'pending approval', kind: 'pending', title: record };
    case 'approved':
      return {
        label: approvers.length > 0 ? `approved by ${approvers.join(', ')}` : 'approved',
        kind: 'approved',
        title: record
      };
    case 'blocked':
    case 'rejected':
      return { label: governance.status, kind: 'blocked', title: record };
    case 'withheld':
      return { label: 'withheld', kind: 'withheld', title: `${record}: masking failed` };
    case 'running':
      return { label: 'running', kind: 'running', title: record };
    default:
      return { label: governance.status, kind: 'error', title: record };
  }
}

/** A cell's connection and purpose as written in its source: `%%sql prod`, `%purpose ...`. */
export function declaredContext(sources: string[]): { connection: string; purpose: string } {
  let connection = '';
  let purpose = '';
  for (const source of sources) {
    for (const line of source.split('\n')) {
      const trimmed = line.trim();
      const magic = /^%%?(sql|sh)\s+([A-Za-z_][\w-]*)/.exec(trimmed);
      if (magic && !trimmed.slice(magic[0].length).trimStart().startsWith('=')) {
        connection = magic[2];
      }
      const declared = /^%purpose\s+(.+)$/.exec(trimmed);
      if (declared) {
        purpose = declared[1].trim();
      }
    }
  }
  return { connection, purpose };
}

export interface NotebookContext {
  connection: string;
  purpose: string;
}

/**
 * Keeps one badge on each governed cell of the open notebooks, up to date as outputs
 * change, and tracks each notebook's connection and purpose for the status bar.
 */
export class CellBadges {
  readonly contextChanged = new Signal<this, NotebookPanel>(this);
  private readonly executions = new Map<string, Promise<Execution | null>>();
  private readonly approvals = new Map<string, Promise<Approval | null>>();
  private readonly contexts = new WeakMap<NotebookPanel, NotebookContext>();

  constructor(
    private readonly client: NbwardenClient,
    private readonly openRecord: (executionId: string) => void
  ) {}

  context(panel: NotebookPanel): NotebookContext {
    return this.contexts.get(panel) ?? { connection: '', purpose: '' };
  }

  watch(panel: NotebookPanel): void {
    const notebook = panel.content;
    const watched = new WeakSet<Cell>();
    const scan = (): void => {
      for (const cell of notebook.widgets) {
        if (cell instanceof CodeCell && !watched.has(cell)) {
          watched.add(cell);
          cell.model.outputs.changed.connect(() => void this.update(panel, cell));
          void this.update(panel, cell);
        }
      }
      this.updateDeclared(panel);
    };
    panel.context.ready.then(scan).catch(() => undefined);
    notebook.model?.cells.changed.connect(scan);
    notebook.modelContentChanged.connect(() => this.updateDeclared(panel));
  }

  /** Forget cached details of an execution or approval that changed state. */
  invalidate(id: string): void {
    this.executions.delete(id);
    this.approvals.delete(id);
  }

  async update(panel: NotebookPanel, cell: CodeCell): Promise<void> {
    const outputs = cell.model.outputs;
    const items = Array.from({ length: outputs.length }, (_, index) => outputs.get(index));
    const governance = governanceOf(items.map(item => ({ metadata: item.metadata })));
    if (governance === null) {
      this.render(cell, null, '');
      return;
    }
    this.render(cell, badgeFor(governance, null, null), governance.executionId);
    const final = ['ok', 'blocked', 'rejected', 'withheld', 'error'].includes(governance.status);
    const execution =
      final && governance.executionId ? await this.fetchExecution(governance.executionId) : null;
    const approvalId = governance.approvalId || execution?.approvalId || '';
    const approval = approvalId ? await this.fetchApproval(approvalId) : null;
    this.render(cell, badgeFor(governance, execution, approval), governance.executionId);
    if (execution) {
      this.contexts.set(panel, {
        connection: execution.connection || this.context(panel).connection,
        purpose: execution.purpose || this.context(panel).purpose
      });
      this.contextChanged.emit(panel);
    }
  }

  private updateDeclared(panel: NotebookPanel): void {
    const sources = panel.content.widgets.map(cell => cell.model.sharedModel.getSource());
    const declared = declaredContext(sources);
    const known = this.context(panel);
    const next = {
      connection: declared.connection || known.connection,
      purpose: declared.purpose || known.purpose
    };
    if (next.connection !== known.connection || next.purpose !== known.purpose) {
      this.contexts.set(panel, next);
      this.contextChanged.emit(panel);
    }
  }

  private fetchExecution(id: string): Promise<Execution | null> {
    let found = this.executions.get(id);
    if (found === undefined) {
      found = this.client.execution(id).catch(() => null);
      this.executions.set(id, found);
    }
    return found;
  }

  /** Cached once decided; a pending request is asked again on the next output change. */
  private fetchApproval(id: string): Promise<Approval | null> {
    let found = this.approvals.get(id);
    if (found === undefined) {
      found = this.client.approval(id).catch(() => null);
      this.approvals.set(id, found);
      void found.then(approval => {
        if (approval === null || approval.state === 'pending') {
          this.approvals.delete(id);
        }
      });
    }
    return found;
  }

  private render(cell: CodeCell, badge: Badge | null, executionId: string): void {
    const host = cell.inputArea?.node ?? cell.node;
    let button = host.querySelector<HTMLButtonElement>(':scope > .nbw-cell-badge');
    if (badge === null) {
      button?.remove();
      return;
    }
    if (button === null) {
      button = document.createElement('button');
      button.type = 'button';
      button.className = 'nbw-cell-badge';
      host.append(button);
    }
    button.textContent = badge.label;
    button.title = badge.title;
    button.dataset.kind = badge.kind;
    button.setAttribute('aria-label', `nbwarden: ${badge.label}. Open the ${badge.title}`);
    button.disabled = executionId === '';
    button.onclick = () => this.openRecord(executionId);
  }
}
