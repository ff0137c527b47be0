import { Event } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import { text } from './model';

export const APPROVAL_SCHEMA_ID = 'https://events.nbwarden.dev/approval';
export const EXECUTION_SCHEMA_ID = 'https://events.nbwarden.dev/execution';

export interface ApprovalEvent {
  id: string;
  state: string;
  connection: string;
  requester: string;
  approver: string;
}

export interface ExecutionEvent {
  id: string;
  status: string;
  action: string;
  kernelId: string;
  cellId: string;
}

/**
 * The gateway's events from jupyter_server's event bus (`/api/events/subscribe`),
 * sorted by schema. Events carry ids, states and user names only: no code, no data.
 */
export class GovernanceEvents {
  private readonly _approval = new Signal<this, ApprovalEvent>(this);
  private readonly _execution = new Signal<this, ExecutionEvent>(this);

  get approvalChanged(): ISignal<this, ApprovalEvent> {
    return this._approval;
  }

  get executionChanged(): ISignal<this, ExecutionEvent> {
    return this._execution;
  }

  /** Listen to an event manager's stream; returns a function that stops listening. */
  connect(manager: Event.IManager): () => void {
    const slot = (_: Event.IManager, emission: Event.Emission): void => this.dispatch(emission);
    manager.stream.connect(slot);
    return () => manager.stream.disconnect(slot);
  }

  dispatch(emission: Event.Emission): void {
    if (emission.schema_id === APPROVAL_SCHEMA_ID) {
      this._approval.emit({
        id: text(emission.id),
        state: text(emission.state),
        connection: text(emission.connection),
        requester: text(emission.requester),
        approver: text(emission.approver)
      });
    } else if (emission.schema_id === EXECUTION_SCHEMA_ID) {
      this._execution.emit({
        id: text(emission.id),
        status: text(emission.status),
        action: text(emission.action),
        kernelId: text(emission.kernel_id),
        cellId: text(emission.cell_id)
      });
    }
  }
}
