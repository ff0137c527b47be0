import { CodeCellModel, MarkdownCellModel } from '@jupyterlab/cells';

import { CELL_METADATA_KEY, cellProvenance, recordCellProvenance } from '../cellmeta';

function governedOutput(nbwarden: Record<string, string>) {
  return {
    output_type: 'display_data',
    data: { 'text/plain': 'nbwarden status' },
    metadata: { nbwarden }
  };
}

describe('cell provenance metadata', () => {
  it('collects every execution id, the last status and approval id', () => {
    expect(
      cellProvenance([
        { metadata: { nbwarden: { approval_id: 'apr-1', status: 'pending' } } },
        { metadata: {} },
        { metadata: { nbwarden: { execution_id: 'exe-1', status: 'pending' } } },
        { metadata: { nbwarden: { execution_id: 'exe-2', status: 'ok' } } },
        { metadata: { nbwarden: { execution_id: 'exe-2', status: 'ok' } } }
      ])
    ).toEqual({ execution_ids: ['exe-1', 'exe-2'], status: 'ok', approval_id: 'apr-1' });
    expect(cellProvenance([{ metadata: { other: 1 } }])).toBeNull();
  });

  it('copies the ids of a finished cell into its metadata, as nbwarden run does', () => {
    const cell = new CodeCellModel();
    cell.outputs.add({ output_type: 'stream', name: 'stdout', text: 'plain output' });
    cell.outputs.add(governedOutput({ execution_id: 'exe-9', status: 'ok' }));
    expect(recordCellProvenance(cell)).toBe(true);
    expect(cell.getMetadata(CELL_METADATA_KEY)).toEqual({
      execution_ids: ['exe-9'],
      status: 'ok'
    });
    expect(recordCellProvenance(cell)).toBe(false);
    expect(cell.toJSON().metadata).toMatchObject({
      nbwarden: { execution_ids: ['exe-9'], status: 'ok' }
    });
  });

  it('drops stale links when the cell is run again without governance', () => {
    const cell = new CodeCellModel();
    cell.outputs.add(governedOutput({ execution_id: 'exe-9', status: 'ok' }));
    recordCellProvenance(cell);
    cell.outputs.clear();
    cell.outputs.add({ output_type: 'stream', name: 'stdout', text: 'ungoverned' });
    expect(recordCellProvenance(cell)).toBe(true);
    expect(cell.getMetadata(CELL_METADATA_KEY)).toBeUndefined();
  });

  it('leaves markdown cells alone', () => {
    const cell = new MarkdownCellModel();
    expect(recordCellProvenance(cell)).toBe(false);
    expect(cell.getMetadata(CELL_METADATA_KEY)).toBeUndefined();
  });
});
