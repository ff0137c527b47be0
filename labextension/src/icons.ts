import { LabIcon } from '@jupyterlab/ui-components';

const SHIELD = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="16" height="16">
  <path class="jp-icon3" fill="#616161" d="M12 2 4 5v6c0 5 3.4 9.7 8 11 4.6-1.3 8-6 8-11V5l-8-3zm-1.2 14.2-3.5-3.5 1.4-1.4 2.1 2.1 4.9-4.9 1.4 1.4-6.3 6.3z"/>
</svg>`;

const LEDGER = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="16" height="16">
  <path class="jp-icon3" fill="#616161" d="M5 3h11l3 3v15H5V3zm2 5v2h10V8H7zm0 4v2h10v-2H7zm0 4v2h7v-2H7z"/>
</svg>`;

export const approvalsIcon = new LabIcon({ name: 'nbwarden:approvals', svgstr: SHIELD });
export const auditIcon = new LabIcon({ name: 'nbwarden:audit', svgstr: LEDGER });
