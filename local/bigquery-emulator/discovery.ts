/**
 * A discovery document (https://developers.google.com/discovery/v1/reference/apis) describing the
 * methods the emulator implements. Google's `bq` CLI builds its API client from the discovery
 * document of the endpoint it is pointed at (`bq --api=http://...`), so the emulator serves one,
 * rooted at its own address. Written here from the REST reference, listing only what is served.
 */

type Param = [name: string, location: 'path' | 'query', type?: 'string' | 'boolean' | 'integer'];

interface MethodSpec {
  httpMethod: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  path: string;
  params: Param[];
  request?: string;
  response?: string;
  /** jobs.insert declares uploads; `bq` always passes a (null) media body to it. */
  upload?: boolean;
}

const P = (name: string): Param => [name, 'path'];
const Q = (name: string, type: Param[2] = 'string'): Param => [name, 'query', type];
const PROJECT = P('projectId');
const DATASET = P('datasetId');
const TABLE = P('tableId');
const JOB = P('jobId');

const RESOURCES: Record<string, Record<string, MethodSpec>> = {
  projects: {
    list: {
      httpMethod: 'GET',
      path: 'projects',
      params: [Q('maxResults', 'integer'), Q('pageToken')],
      response: 'ProjectList',
    },
    getServiceAccount: {
      httpMethod: 'GET',
      path: 'projects/{projectId}/serviceAccount',
      params: [PROJECT],
      response: 'GetServiceAccountResponse',
    },
  },
  datasets: {
    list: {
      httpMethod: 'GET',
      path: 'projects/{projectId}/datasets',
      params: [PROJECT, Q('all', 'boolean'), Q('filter'), Q('maxResults', 'integer'), Q('pageToken')],
      response: 'DatasetList',
    },
    get: {
      httpMethod: 'GET',
      path: 'projects/{projectId}/datasets/{datasetId}',
      params: [PROJECT, DATASET, Q('datasetView'), Q('accessPolicyVersion', 'integer')],
      response: 'Dataset',
    },
    insert: {
      httpMethod: 'POST',
      path: 'projects/{projectId}/datasets',
      params: [PROJECT, Q('accessPolicyVersion', 'integer')],
      request: 'Dataset',
      response: 'Dataset',
    },
    patch: {
      httpMethod: 'PATCH',
      path: 'projects/{projectId}/datasets/{datasetId}',
      params: [PROJECT, DATASET, Q('updateMode'), Q('accessPolicyVersion', 'integer')],
      request: 'Dataset',
      response: 'Dataset',
    },
    update: {
      httpMethod: 'PUT',
      path: 'projects/{projectId}/datasets/{datasetId}',
      params: [PROJECT, DATASET, Q('updateMode'), Q('accessPolicyVersion', 'integer')],
      request: 'Dataset',
      response: 'Dataset',
    },
    delete: {
      httpMethod: 'DELETE',
      path: 'projects/{projectId}/datasets/{datasetId}',
      params: [PROJECT, DATASET, Q('deleteContents', 'boolean')],
    },
  },
  tables: {
    list: {
      httpMethod: 'GET',
      path: 'projects/{projectId}/datasets/{datasetId}/tables',
      params: [PROJECT, DATASET, Q('maxResults', 'integer'), Q('pageToken')],
      response: 'TableList',
    },
    get: {
      httpMethod: 'GET',
      path: 'projects/{projectId}/datasets/{datasetId}/tables/{tableId}',
      params: [PROJECT, DATASET, TABLE, Q('selectedFields'), Q('view')],
      response: 'Table',
    },
    insert: {
      httpMethod: 'POST',
      path: 'projects/{projectId}/datasets/{datasetId}/tables',
      params: [PROJECT, DATASET],
      request: 'Table',
      response: 'Table',
    },
    patch: {
      httpMethod: 'PATCH',
      path: 'projects/{projectId}/datasets/{datasetId}/tables/{tableId}',
      params: [PROJECT, DATASET, TABLE, Q('autodetect_schema', 'boolean')],
      request: 'Table',
      response: 'Table',
    },
    update: {
      httpMethod: 'PUT',
      path: 'projects/{projectId}/datasets/{datasetId}/tables/{tableId}',
      params: [PROJECT, DATASET, TABLE, Q('autodetect_schema', 'boolean')],
      request: 'Table',
      response: 'Table',
    },
    delete: {
      httpMethod: 'DELETE',
      path: 'projects/{projectId}/datasets/{datasetId}/tables/{tableId}',
      params: [PROJECT, DATASET, TABLE],
    },
  },
  tabledata: {
    insertAll: {
      httpMethod: 'POST',
      path: 'projects/{projectId}/datasets/{datasetId}/tables/{tableId}/insertAll',
      params: [PROJECT, DATASET, TABLE],
      request: 'TableDataInsertAllRequest',
      response: 'TableDataInsertAllResponse',
    },
    list: {
      httpMethod: 'GET',
      path: 'projects/{projectId}/datasets/{datasetId}/tables/{tableId}/data',
      params: [
        PROJECT,
        DATASET,
        TABLE,
        Q('maxResults', 'integer'),
        Q('pageToken'),
        Q('startIndex'),
        Q('selectedFields'),
        Q('formatOptions.useInt64Timestamp', 'boolean'),
      ],
      response: 'TableDataList',
    },
  },
  jobs: {
    insert: {
      httpMethod: 'POST',
      path: 'projects/{projectId}/jobs',
      params: [PROJECT],
      request: 'Job',
      response: 'Job',
      upload: true,
    },
    get: {
      httpMethod: 'GET',
      path: 'projects/{projectId}/jobs/{jobId}',
      params: [PROJECT, JOB, Q('location')],
      response: 'Job',
    },
    list: {
      httpMethod: 'GET',
      path: 'projects/{projectId}/jobs',
      params: [
        PROJECT,
        Q('allUsers', 'boolean'),
        Q('maxResults', 'integer'),
        Q('pageToken'),
        Q('projection'),
        Q('stateFilter'),
        Q('minCreationTime'),
        Q('maxCreationTime'),
        Q('parentJobId'),
      ],
      response: 'JobList',
    },
    query: {
      httpMethod: 'POST',
      path: 'projects/{projectId}/queries',
      params: [PROJECT],
      request: 'QueryRequest',
      response: 'QueryResponse',
    },
    getQueryResults: {
      httpMethod: 'GET',
      path: 'projects/{projectId}/queries/{jobId}',
      params: [
        PROJECT,
        JOB,
        Q('location'),
        Q('maxResults', 'integer'),
        Q('pageToken'),
        Q('startIndex'),
        Q('timeoutMs', 'integer'),
        Q('formatOptions.useInt64Timestamp', 'boolean'),
      ],
      response: 'GetQueryResultsResponse',
    },
    cancel: {
      httpMethod: 'POST',
      path: 'projects/{projectId}/jobs/{jobId}/cancel',
      params: [PROJECT, JOB, Q('location')],
      response: 'JobCancelResponse',
    },
    delete: {
      httpMethod: 'DELETE',
      path: 'projects/{projectId}/jobs/{jobId}/delete',
      params: [PROJECT, JOB, Q('location')],
    },
  },
};

const GLOBAL_PARAMETERS = [
  'alt',
  'fields',
  'key',
  'oauth_token',
  'prettyPrint',
  'quotaUser',
  'userIp',
  'access_token',
  'callback',
  '$.xgafv',
];

export function discoveryDocument(rootUrl: string): Record<string, unknown> {
  const schemas = new Set<string>();
  const resources: Record<string, unknown> = {};
  for (const [resource, methods] of Object.entries(RESOURCES)) {
    const described: Record<string, unknown> = {};
    for (const [name, spec] of Object.entries(methods)) {
      const parameters: Record<string, unknown> = {};
      for (const [param, location, type = 'string'] of spec.params)
        parameters[param] = { type, location, ...(location === 'path' ? { required: true } : {}) };
      if (spec.request) schemas.add(spec.request);
      if (spec.response) schemas.add(spec.response);
      described[name] = {
        id: `bigquery.${resource}.${name}`,
        path: spec.path,
        flatPath: spec.path,
        httpMethod: spec.httpMethod,
        parameters,
        parameterOrder: spec.params.filter(([, location]) => location === 'path').map(([param]) => param),
        ...(spec.request ? { request: { $ref: spec.request } } : {}),
        ...(spec.response ? { response: { $ref: spec.response } } : {}),
        scopes: ['https://www.googleapis.com/auth/bigquery'],
        ...(spec.upload
          ? {
              supportsMediaUpload: true,
              mediaUpload: {
                accept: ['*/*'],
                protocols: { simple: { multipart: true, path: `/upload/bigquery/v2/${spec.path}` } },
              },
            }
          : {}),
      };
    }
    resources[resource] = { methods: described };
  }
  return {
    kind: 'discovery#restDescription',
    discoveryVersion: 'v1',
    id: 'bigquery:v2',
    name: 'bigquery',
    version: 'v2',
    title: 'BigQuery API (emulator)',
    description: 'The subset of the BigQuery API v2 served by the local BigQuery emulator.',
    protocol: 'rest',
    rootUrl: `${rootUrl}/`,
    servicePath: 'bigquery/v2/',
    basePath: '/bigquery/v2/',
    baseUrl: `${rootUrl}/bigquery/v2/`,
    batchPath: 'batch/bigquery/v2',
    parameters: Object.fromEntries(
      GLOBAL_PARAMETERS.map((p) => [
        p,
        { type: p === 'prettyPrint' ? 'boolean' : 'string', location: 'query' },
      ]),
    ),
    auth: { oauth2: { scopes: { 'https://www.googleapis.com/auth/bigquery': { description: 'BigQuery' } } } },
    schemas: Object.fromEntries(
      [...schemas].map((id) => [id, { id, type: 'object', additionalProperties: { type: 'any' } }]),
    ),
    resources,
  };
}
