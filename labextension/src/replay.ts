/**
 * Session replay: a notebook's governed cells in the order they ran, each with its
 * verdict from the provenance record and its masked output from the saved notebook.
 * The provenance store keeps no result data, so outputs come from the notebook file,
 * matched by the execution id the kernel wrote into each governed output's metadata.
 */

import { Execution, isRecord, text } from './model';

/** execution id -> the masked text output the saved notebook holds for it. */
export type SavedOutputs = Record<string, string>;

export interface ReplayCell {
  execution: Execution;
  output: string;
}

function sameNotebook(recorded: string, wanted: string): boolean {
  const strip = (path: string): string => path.replace(/^\/+/, '');
  return recorded !== '' && (strip(recorded) === strip(wanted) || recorded.endsWith(`/${wanted}`));
}

export function replayOrder(
  executions: Execution[],
  notebook: string,
  outputs: SavedOutputs
): ReplayCell[] {
  return executions
    .filter(execution => sameNotebook(execution.notebook, notebook))
    .sort((a, b) => (a.startedAt?.getTime() ?? 0) - (b.startedAt?.getTime() ?? 0))
    .map(execution => ({ execution, output: outputs[execution.id] ?? '' }));
}

function outputText(output: Record<string, unknown>): string {
  if (typeof output.text === 'string' || Array.isArray(output.text)) {
    return Array.isArray(output.text) ? output.text.map(text).join('') : output.text;
  }
  const data = isRecord(output.data) ? output.data : {};
  const plain = data['text/plain'];
  return Array.isArray(plain) ? plain.map(text).join('') : text(plain);
}

/**
 * Collect each governed cell's outputs from notebook JSON (nbformat 4), keyed by the
 * execution id found in an output's `metadata.nbwarden.execution_id`.
 */
export function savedOutputs(notebook: unknown): SavedOutputs {
  const found: SavedOutputs = {};
  const cells = isRecord(notebook) && Array.isArray(notebook.cells) ? notebook.cells : [];
  for (const cell of cells.filter(isRecord)) {
    const outputs = Array.isArray(cell.outputs) ? cell.outputs.filter(isRecord) : [];
    const ids = outputs
      .map(output => (isRecord(output.metadata) ? output.metadata.nbwarden : undefined))
      .filter(isRecord)
      .map(meta => text(meta.execution_id))
      .filter(id => id !== '');
    if (ids.length > 0) {
      const joined = outputs
        .map(outputText)
        .filter(part => part !== '')
        .join('\n');
      for (const id of ids) {
        found[id] = joined;
      }
    }
  }
  return found;
}
