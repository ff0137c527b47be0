// End-to-end UI test of the nbwarden JupyterLab extension in Debian's Chromium.
// Driven by tests/ui/test_lab.py, which starts `nbwarden demo` (a real JupyterLab with
// the server extension, the governed kernel and three users) and passes its URLs here.
// Prints one JSON object with what it saw; exits non-zero on the first failed step.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { chromium } from 'playwright-core';

const env = name => {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set`);
  }
  return value;
};

const BASE = env('NBW_BASE_URL');
const TOKENS = {
  analyst: env('NBW_ANALYST_TOKEN'),
  approver: env('NBW_APPROVER_TOKEN'),
  auditor: env('NBW_AUDITOR_TOKEN')
};
const DSAR_EMAIL = env('NBW_DSAR_EMAIL');
const ARTIFACTS = env('NBW_ARTIFACTS');
const RUN = Date.now().toString(36);
const NOTEBOOK = `ui-test-${RUN}.ipynb`;
const PURPOSE = `UI test of the approval flow ${RUN}`;
const STEP_TIMEOUT = 60_000;

const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync'
];

const seen = { steps: [], screenshots: [], downloads: {} };

function step(name) {
  seen.steps.push(name);
  process.stderr.write(`ui step: ${name}\n`);
}

async function shot(page, name) {
  await dismissNews(page);
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file });
  seen.screenshots.push(file);
}

function notebookJson() {
  const code = source => ({
    cell_type: 'code',
    metadata: {},
    execution_count: null,
    outputs: [],
    source
  });
  return {
    type: 'notebook',
    content: {
      nbformat: 4,
      nbformat_minor: 5,
      metadata: {
        kernelspec: { name: 'nbwarden', display_name: 'Python 3 (nbwarden)', language: 'python' },
        language_info: { name: 'python' }
      },
      cells: [
        code(`%purpose ${PURPOSE}`),
        code(
          '%%sql prod\nSELECT full_name, email, city FROM customers ORDER BY customer_id LIMIT 5'
        ),
        code('%%sql prod\nSELECT * FROM support_tickets'),
        code('%%sql prod\nSELECT * FROM orders')
      ].map((cell, index) => ({ ...cell, id: `ui-cell-${index}` }))
    }
  };
}

async function writeNotebook() {
  const response = await fetch(`${BASE}api/contents/${NOTEBOOK}`, {
    method: 'PUT',
    headers: { Authorization: `token ${TOKENS.analyst}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(notebookJson())
  });
  if (!response.ok) {
    throw new Error(`could not write the test notebook: ${response.status}`);
  }
}

async function openLab(browser, role, page = 'lab') {
  const context = await browser.newContext({
    viewport: { width: 1400, height: 900 },
    acceptDownloads: true
  });
  const tab = await context.newPage();
  tab.setDefaultTimeout(STEP_TIMEOUT);
  await tab.goto(`${BASE}${page}?reset&token=${TOKENS[role]}`);
  await tab.waitForSelector('#jp-main-dock-panel', { timeout: 90_000 });
  return { context, page: tab };
}

async function dismissNews(page) {
  const no = page.getByRole('button', { name: 'No', exact: true });
  if (await no.isVisible().catch(() => false)) {
    await no.click().catch(() => undefined);
  }
}

const cellAt = (page, index) => page.locator('.jp-Notebook .jp-Cell').nth(index);

async function analystRunsCells(page) {
  step('analyst opens the notebook');
  await page.waitForSelector('.jp-Notebook .jp-Cell');
  await page
    .locator('.jp-StatusBar-Widget', { hasText: /\(nbwarden\) \| Idle/ })
    .waitFor({ timeout: 90_000 });
  await dismissNews(page);
  await cellAt(page, 0).click();
  await page.keyboard.press('Escape');
  step('analyst runs a masked query and a flagged one');
  for (let index = 0; index < 3; index++) {
    await page.keyboard.press('Shift+Enter');
  }
  await cellAt(page, 0).locator('.jp-InputPrompt', { hasText: '[1]' }).waitFor();
  await cellAt(page, 1).locator('.nbwarden-result').waitFor();
  await cellAt(page, 2).locator('.nbw-cell-badge', { hasText: 'pending approval' }).waitFor();
  const masked = await cellAt(page, 1).locator('td[title="masked by nbwarden"]').count();
  if (masked === 0) {
    throw new Error('the allowed query came back without masked cells');
  }
  seen.maskedCellsFirstQuery = masked;
  await cellAt(page, 1).locator('.nbw-cell-badge', { hasText: 'masked' }).waitFor();
  seen.firstBadge = await cellAt(page, 1).locator('.nbw-cell-badge').textContent();
  await shot(page, 'notebook-pending');
}

async function approverApproves(page) {
  step('approver opens the approvals panel');
  const tab = page.locator('.jp-SideBar [data-id="nbwarden-approvals"]');
  await tab.waitFor();
  await page.waitForFunction(
    () =>
      Number(
        document
          .querySelector('.jp-SideBar [data-id="nbwarden-approvals"]')
          ?.getAttribute('data-nbw-pending')
      ) > 0
  );
  seen.pendingBadge = await tab.getAttribute('data-nbw-pending');
  if (!(await page.locator('#nbwarden-approvals').isVisible())) {
    await tab.click();
  }
  const card = page.locator('.nbw-card', { hasText: PURPOSE });
  await card.waitFor();
  seen.flaggedText = await card.locator('mark.nbw-flagged').allTextContents();
  seen.heldFacts = await card.locator('.nbw-facts').textContent();
  await card.locator('select.nbw-basis').selectOption('legitimate_interests');
  await card.locator('textarea.nbw-justification').fill('Support quality review, ticket sample');
  await shot(page, 'approvals-panel');
  step('approver approves');
  await card.locator('button.nbw-approve').click();
  await card.waitFor({ state: 'detached' });
  await shot(page, 'approvals-panel-empty');
}

async function analystSeesResult(page) {
  step("analyst's held cell completes with a masked table");
  const cell = cellAt(page, 2);
  await cell.locator('.nbwarden-result').waitFor({ timeout: 90_000 });
  await cell.locator('.nbw-cell-badge', { hasText: 'approved by' }).waitFor();
  seen.heldBadge = await cell.locator('.nbw-cell-badge').textContent();
  seen.maskedCellsHeldQuery = await cell.locator('td[title="masked by nbwarden"]').count();
  await page.keyboard.press('Control+s');
  await page.waitForTimeout(1000);
  seen.statusBar = await page.locator('.nbw-statusbar').textContent();
  await cell.scrollIntoViewIfNeeded();
  await shot(page, 'notebook-badges');

  step('a badge opens the provenance record');
  await cell.locator('.nbw-cell-badge').click();
  const record = page.locator('.jp-Dialog .nbw-record');
  await record.waitFor();
  seen.recordText = await record.locator('.nbw-facts').textContent();
  await shot(page, 'provenance-record');
  await page.keyboard.press('Escape');
  await record.waitFor({ state: 'detached' });
}

async function analystRunsAnotherFlaggedCell(page) {
  step('analyst runs a second flagged cell');
  const cell = cellAt(page, 3);
  await cell.locator('.jp-InputArea-editor').click();
  await page.keyboard.press('Shift+Enter');
  await cell.locator('.nbw-cell-badge', { hasText: 'pending approval' }).waitFor();
}

async function approverRejectsLive(page) {
  step('the new request reaches the open panel live and the approver rejects it');
  const card = page.locator('.nbw-card', { hasText: 'orders' });
  await card.waitFor();
  await card.locator('input.nbw-reason').fill('Not needed for the stated purpose');
  await card.locator('button.nbw-reject').click();
  await card.waitFor({ state: 'detached' });
}

async function analystSeesRejection(page) {
  step("analyst's second cell is rejected");
  const badge = cellAt(page, 3).locator('.nbw-cell-badge', { hasText: 'rejected' });
  await badge.waitFor();
  seen.rejectedBadge = await badge.textContent();
}

async function download(page, button, name) {
  const [file] = await Promise.all([page.waitForEvent('download'), button.click()]);
  const target = path.join(ARTIFACTS, name);
  await file.saveAs(target);
  seen.downloads[name] = fs.statSync(target).size;
  return fs.readFileSync(target, 'utf8');
}

async function auditorAudits(page) {
  step('auditor opens the audit panel');
  await page.locator('.jp-LauncherCard', { hasText: 'nbwarden Audit' }).click();
  const audit = page.locator('.nbw-audit');
  await audit.waitFor();
  await audit.locator('button[type="submit"]', { hasText: 'Search' }).click();
  await audit.locator('.nbw-table tbody tr').first().waitFor();
  seen.executionRows = await audit.locator('.nbw-table tbody tr').count();
  await shot(page, 'audit-executions');

  step('auditor runs a DSAR and exports it');
  await page.locator('#nbw-tab-dsar').click();
  await page.locator('#nbw-d-email').fill(DSAR_EMAIL);
  await page.locator('.nbw-dsar-run').click();
  await audit.locator('.nbw-dsar-result').waitFor();
  seen.dsarSummary = await audit.locator('.nbw-dsar-result [role="status"]').textContent();
  await shot(page, 'audit-dsar');
  const csv = await download(page, audit.locator('.nbw-export-csv'), 'dsar.csv');
  seen.dsarCsvLines = csv.trim().split('\r\n').length;
  const json = await download(page, audit.locator('.nbw-export-json'), 'dsar.json');
  seen.dsarJsonRecords = JSON.parse(json).length;
  await download(page, audit.locator('.nbw-export-html'), 'dsar.html');

  step('auditor verifies the chain');
  await page.locator('#nbw-tab-verify').click();
  await audit.locator('button.nbw-verify').click();
  const verdict = audit.locator('[role="status"]');
  await verdict.waitFor();
  seen.verify = await verdict.textContent();
  await shot(page, 'audit-verify');

  step('auditor replays the session');
  await page.locator('#nbw-tab-replay').click();
  await page.locator('#nbw-r-notebook').fill(NOTEBOOK);
  await audit.locator('button[type="submit"]', { hasText: 'Replay' }).click();
  await audit.locator('.nbw-replay-cell').first().waitFor();
  seen.replayCells = await audit.locator('.nbw-replay-cell').count();
  seen.replayOutputs = await audit.locator('.nbw-replay-cell .nbw-output').count();
  await shot(page, 'audit-replay');

  step('auditor looks at the charts');
  await page.locator('#nbw-tab-charts').click();
  await audit.locator('.nbw-chart svg').first().waitFor();
  seen.chartBars = await audit.locator('.nbw-chart svg rect').count();
  await shot(page, 'audit-charts');
}

async function main() {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await writeNotebook();
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'nbw-chromium-'));
  const browser = await chromium.launch({
    executablePath: process.env.NBW_CHROMIUM ?? '/usr/bin/chromium',
    args: CHROMIUM_FLAGS,
    env: { ...process.env, HOME: profile }
  });
  try {
    const analyst = await openLab(browser, 'analyst', `lab/tree/${NOTEBOOK}`);
    await analystRunsCells(analyst.page);
    const approver = await openLab(browser, 'approver', 'lab/workspaces/approver');
    await approverApproves(approver.page);
    await analystSeesResult(analyst.page);
    await analystRunsAnotherFlaggedCell(analyst.page);
    await approverRejectsLive(approver.page);
    await analystSeesRejection(analyst.page);
    const auditor = await openLab(browser, 'auditor', 'lab/workspaces/auditor');
    await auditorAudits(auditor.page);
    step('panels follow roles');
    seen.analystHasApprovals =
      (await analyst.page.locator('[data-id="nbwarden-approvals"]').count()) > 0;
    seen.auditorHasApprovals =
      (await auditor.page.locator('[data-id="nbwarden-approvals"]').count()) > 0;
    await approver.page.keyboard.press('Control+Shift+L');
    await approver.page.locator('.jp-LauncherCard').first().waitFor({ state: 'attached' });
    seen.approverHasAuditCard =
      (await approver.page.locator('.jp-LauncherCard', { hasText: 'nbwarden Audit' }).count()) > 0;
  } catch (error) {
    for (const [index, context] of browser.contexts().entries()) {
      for (const page of context.pages()) {
        await page
          .screenshot({ path: path.join(ARTIFACTS, `failure-${index}.png`) })
          .catch(() => undefined);
      }
    }
    throw error;
  } finally {
    await browser.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  process.stdout.write(JSON.stringify(seen) + '\n');
}

main().catch(error => {
  process.stderr.write(`ui test failed at "${seen.steps.at(-1)}": ${error.message}\n`);
  process.exit(1);
});
