import { ReactWidget } from '@jupyterlab/ui-components';
import React from 'react';

import { approvalsIcon } from './icons';

/** Status-bar item: the active notebook's connection and declared purpose. */
export class GovernanceStatus extends ReactWidget {
  private connection = '';
  private purpose = '';

  constructor() {
    super();
    this.addClass('nbw-statusbar');
  }

  set(connection: string, purpose: string): void {
    if (connection !== this.connection || purpose !== this.purpose) {
      this.connection = connection;
      this.purpose = purpose;
      this.update();
    }
  }

  render(): JSX.Element {
    const connection = this.connection || 'no connection';
    const purpose = this.purpose || 'no purpose declared';
    return (
      <span title="nbwarden: connection and declared purpose" className="nbw-statusbar-text">
        <approvalsIcon.react tag="span" className="nbw-statusbar-icon" />
        {connection} · {purpose}
      </span>
    );
  }
}
