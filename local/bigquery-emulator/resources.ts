/** Dataset and table resources as the REST API returns them. */
import type { DatasetMeta, TableMeta } from './catalog.ts';

export function datasetResource(dataset: DatasetMeta, baseUrl: string): Record<string, unknown> {
  const { projectId, datasetId } = dataset;
  return {
    kind: 'bigquery#dataset',
    etag: dataset.etag,
    id: `${projectId}:${datasetId}`,
    selfLink: `${baseUrl}/projects/${projectId}/datasets/${datasetId}`,
    datasetReference: { datasetId, projectId },
    ...(dataset.friendlyName !== undefined ? { friendlyName: dataset.friendlyName } : {}),
    ...(dataset.description !== undefined ? { description: dataset.description } : {}),
    ...(dataset.labels ? { labels: dataset.labels } : {}),
    ...(dataset.defaultTableExpirationMs !== undefined
      ? { defaultTableExpirationMs: dataset.defaultTableExpirationMs }
      : {}),
    ...(dataset.defaultPartitionExpirationMs !== undefined
      ? { defaultPartitionExpirationMs: dataset.defaultPartitionExpirationMs }
      : {}),
    access: [
      { role: 'WRITER', specialGroup: 'projectWriters' },
      { role: 'OWNER', specialGroup: 'projectOwners' },
      { role: 'READER', specialGroup: 'projectReaders' },
    ],
    creationTime: dataset.creationTime,
    lastModifiedTime: dataset.lastModifiedTime,
    location: dataset.location,
    type: 'DEFAULT',
  };
}

export function datasetListEntry(dataset: DatasetMeta): Record<string, unknown> {
  return {
    kind: 'bigquery#dataset',
    id: `${dataset.projectId}:${dataset.datasetId}`,
    datasetReference: { datasetId: dataset.datasetId, projectId: dataset.projectId },
    ...(dataset.labels ? { labels: dataset.labels } : {}),
    ...(dataset.friendlyName !== undefined ? { friendlyName: dataset.friendlyName } : {}),
    location: dataset.location,
  };
}

export function tableResource(
  table: TableMeta,
  baseUrl: string,
  numRows: number | undefined,
): Record<string, unknown> {
  const { projectId, datasetId, tableId } = table;
  return {
    kind: 'bigquery#table',
    etag: table.etag,
    id: `${projectId}:${datasetId}.${tableId}`,
    selfLink: `${baseUrl}/projects/${projectId}/datasets/${datasetId}/tables/${encodeURIComponent(tableId)}`,
    tableReference: { projectId, datasetId, tableId },
    ...(table.friendlyName !== undefined ? { friendlyName: table.friendlyName } : {}),
    ...(table.description !== undefined ? { description: table.description } : {}),
    ...(table.labels ? { labels: table.labels } : {}),
    schema: { fields: table.schema },
    ...(table.timePartitioning ? { timePartitioning: table.timePartitioning } : {}),
    ...(table.rangePartitioning ? { rangePartitioning: table.rangePartitioning } : {}),
    ...(table.clustering ? { clustering: table.clustering } : {}),
    ...(table.requirePartitionFilter !== undefined
      ? { requirePartitionFilter: table.requirePartitionFilter }
      : {}),
    ...(table.view ? { view: table.view } : {}),
    numBytes: '0',
    numLongTermBytes: '0',
    ...(numRows !== undefined ? { numRows: String(numRows) } : {}),
    creationTime: table.creationTime,
    ...(table.expirationTime !== undefined ? { expirationTime: table.expirationTime } : {}),
    lastModifiedTime: table.lastModifiedTime,
    type: table.type,
    location: table.location,
  };
}

export function tableListEntry(table: TableMeta): Record<string, unknown> {
  const { projectId, datasetId, tableId } = table;
  return {
    kind: 'bigquery#table',
    id: `${projectId}:${datasetId}.${tableId}`,
    tableReference: { projectId, datasetId, tableId },
    type: table.type,
    ...(table.friendlyName !== undefined ? { friendlyName: table.friendlyName } : {}),
    ...(table.labels ? { labels: table.labels } : {}),
    ...(table.timePartitioning ? { timePartitioning: table.timePartitioning } : {}),
    ...(table.rangePartitioning ? { rangePartitioning: table.rangePartitioning } : {}),
    ...(table.clustering ? { clustering: table.clustering } : {}),
    ...(table.view ? { view: { useLegacySql: false } } : {}),
    creationTime: table.creationTime,
    ...(table.expirationTime !== undefined ? { expirationTime: table.expirationTime } : {}),
  };
}
