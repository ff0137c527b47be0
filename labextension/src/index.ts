import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget, WidgetTracker } from '@jupyterlab/apputils';
import { ILauncher } from '@jupyterlab/launcher';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ServerConnection } from '@jupyterlab/services';
import { IStatusBar } from '@jupyterlab/statusbar';

import { NbwardenClient } from './api';
import { ApprovalsPanel } from './approvals';
import { AuditPanel } from './audit';
import { CellBadges } from './badges';
import { linkCellsToProvenance } from './cellmeta';
import { GovernanceEvents } from './events';
import { approvalsIcon, auditIcon } from './icons';
import { showExecutionRecord } from './record';
import { savedOutputs } from './replay';
import { GovernanceStatus } from './statusbar';

const COMMAND_AUDIT = 'nbwarden:open-audit';
const COMMAND_APPROVALS = 'nbwarden:open-approvals';
const COMMAND_RECORD = 'nbwarden:show-record';

/**
 * Settings that identify the caller by their own login session (cookie + XSRF), not by
 * the server token JupyterLab puts in every page: on a multi-user server that token
 * belongs to whoever the server runs as, and roles must follow the person logged in.
 */
function sessionSettings(app: JupyterFrontEnd): ServerConnection.ISettings {
  return ServerConnection.makeSettings({ ...app.serviceManager.serverSettings, token: '' });
}

function hasRole(roles: string[], role: string): boolean {
  return roles.includes(role) || roles.includes('admin');
}

function addApprovals(
  app: JupyterFrontEnd,
  client: NbwardenClient,
  events: GovernanceEvents,
  restorer: ILayoutRestorer | null,
  palette: ICommandPalette | null
): void {
  const panel = new ApprovalsPanel(client, events);
  panel.title.icon = approvalsIcon;
  panel.title.caption = 'Approvals';
  app.shell.add(panel, 'left', { rank: 600 });
  restorer?.add(panel, panel.id);
  app.commands.addCommand(COMMAND_APPROVALS, {
    label: 'nbwarden: Open Approvals',
    execute: () => app.shell.activateById(panel.id)
  });
  palette?.addItem({ command: COMMAND_APPROVALS, category: 'nbwarden' });
}

function addAudit(
  app: JupyterFrontEnd,
  client: NbwardenClient,
  restorer: ILayoutRestorer | null,
  palette: ICommandPalette | null,
  launcher: ILauncher | null
): void {
  const tracker = new WidgetTracker<MainAreaWidget<AuditPanel>>({ namespace: 'nbwarden-audit' });
  const loadOutputs = async (path: string) => {
    const model = await app.serviceManager.contents.get(path, { content: true, type: 'notebook' });
    return savedOutputs(model.content);
  };
  app.commands.addCommand(COMMAND_AUDIT, {
    label: 'nbwarden Audit',
    caption: 'Search executions, answer subject-access requests, verify the audit chain',
    icon: auditIcon,
    execute: () => {
      const open = tracker.currentWidget;
      if (open && !open.isDisposed) {
        app.shell.activateById(open.id);
        return open;
      }
      const widget = new MainAreaWidget({ content: new AuditPanel({ client, loadOutputs }) });
      widget.id = 'nbwarden-audit-main';
      widget.title.label = 'Audit';
      widget.title.icon = auditIcon;
      widget.title.closable = true;
      void tracker.add(widget);
      app.shell.add(widget, 'main');
      app.shell.activateById(widget.id);
      return widget;
    }
  });
  if (restorer) {
    void restorer.restore(tracker, { command: COMMAND_AUDIT, name: () => 'audit' });
  }
  palette?.addItem({ command: COMMAND_AUDIT, category: 'nbwarden' });
  launcher?.add({ command: COMMAND_AUDIT, category: 'Other', rank: 50 });
}

function addNotebookGovernance(
  app: JupyterFrontEnd,
  client: NbwardenClient,
  events: GovernanceEvents,
  notebooks: INotebookTracker,
  statusBar: IStatusBar | null
): void {
  const badges = new CellBadges(
    client,
    executionId => void app.commands.execute(COMMAND_RECORD, { executionId })
  );
  app.commands.addCommand(COMMAND_RECORD, {
    label: 'nbwarden: Show Provenance Record',
    execute: args => showExecutionRecord(client, String(args.executionId ?? ''))
  });
  linkCellsToProvenance();
  notebooks.widgetAdded.connect((_, panel) => badges.watch(panel));
  notebooks.forEach(panel => badges.watch(panel));
  events.executionChanged.connect((_, event) => badges.invalidate(event.id));
  events.approvalChanged.connect((_, event) => badges.invalidate(event.id));
  if (statusBar === null) {
    return;
  }
  const status = new GovernanceStatus();
  const refresh = (): void => {
    const panel = notebooks.currentWidget;
    const context = panel ? badges.context(panel) : { connection: '', purpose: '' };
    status.set(context.connection, context.purpose);
  };
  badges.contextChanged.connect((_, panel: NotebookPanel) => {
    if (panel === notebooks.currentWidget) {
      refresh();
    }
  });
  notebooks.currentChanged.connect(refresh);
  statusBar.registerStatusItem('nbwarden:governance', {
    item: status,
    align: 'left',
    rank: 4,
    isActive: () =>
      notebooks.currentWidget !== null && app.shell.currentWidget instanceof NotebookPanel
  });
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'nbwarden:plugin',
  description: 'nbwarden: approvals, audit and per-cell governance badges.',
  autoStart: true,
  optional: [INotebookTracker, IStatusBar, ILayoutRestorer, ICommandPalette, ILauncher],
  activate: async (
    app: JupyterFrontEnd,
    notebooks: INotebookTracker | null,
    statusBar: IStatusBar | null,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null,
    launcher: ILauncher | null
  ): Promise<void> => {
    const client = new NbwardenClient(sessionSettings(app));
    const events = new GovernanceEvents();
    events.connect(app.serviceManager.events);
    let roles: string[] = [];
    try {
      roles = (await client.whoami()).roles;
    } catch (error) {
      console.warn('nbwarden: the gateway API is not available; panels stay hidden.', error);
    }
    if (hasRole(roles, 'approver')) {
      addApprovals(app, client, events, restorer, palette);
    }
    if (hasRole(roles, 'auditor')) {
      addAudit(app, client, restorer, palette, launcher);
    }
    if (notebooks) {
      addNotebookGovernance(app, client, events, notebooks, statusBar);
    }
  }
};

export default plugin;
