import { ICellModel, ICodeCellModel } from '@jupyterlab/cells';
import { NotebookActions } from '@jupyterlab/notebook';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import { isRecord, text } from './model';

/** The cell metadata key `nbwarden run` also writes (nbwarden/kernel/headless.py). */
export const CELL_METADATA_KEY = 'nbwarden';

/**
 * What a saved cell carries so an auditor can go from the cell to its provenance
 * records: every execution id in its outputs, the last status and approval id.
 */
export interface CellProvenance {
  execution_ids: string[];
  status: string;
  approval_id?: string;
}

/** The provenance links in a cell's outputs, or null when no output is governed. */
export function cellProvenance(outputs: { metadata: unknown }[]): CellProvenance | null {
  const metas = outputs
    .map(output => (isRecord(output.metadata) ? output.metadata.nbwarden : undefined))
    .filter(isRecord);
  if (metas.length === 0) {
    return null;
  }
  const ids = metas.map(meta => text(meta.execution_id)).filter(id => id !== '');
  const approvals = metas.map(meta => text(meta.approval_id)).filter(id => id !== '');
  const found: CellProvenance = {
    execution_ids: [...new Set(ids)],
    status: text(metas[metas.length - 1].status)
  };
  if (approvals.length > 0) {
    found.approval_id = approvals[approvals.length - 1];
  }
  return found;
}

/**
 * Copy the provenance links of a finished cell's outputs into its metadata; a cell
 * without governed outputs loses stale links from an earlier run. Returns whether
 * the metadata changed.
 */
export function recordCellProvenance(cell: ICellModel): boolean {
  if (cell.type !== 'code') {
    return false;
  }
  const outputs = (cell as ICodeCellModel).outputs;
  const items = Array.from({ length: outputs.length }, (_, index) => outputs.get(index));
  const found = cellProvenance(items.map(item => ({ metadata: item.metadata })));
  const current = cell.getMetadata(CELL_METADATA_KEY) as unknown;
  if (found === null) {
    if (current === undefined) {
      return false;
    }
    cell.deleteMetadata(CELL_METADATA_KEY);
    return true;
  }
  if (JSON.stringify(current) === JSON.stringify(found)) {
    return false;
  }
  cell.setMetadata(CELL_METADATA_KEY, found as unknown as ReadonlyPartialJSONObject);
  return true;
}

/** Record the provenance links of every cell when it finishes running. */
export function linkCellsToProvenance(): void {
  NotebookActions.executed.connect((_, { cell }) => {
    recordCellProvenance(cell.model);
  });
}
