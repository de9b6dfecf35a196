/**
 * BigQuery's error shape. Every failure the emulator answers goes through ApiError, so clients see
 * what BigQuery sends: `{error: {code, message, errors: [{message, domain, reason, location?,
 * locationType?}], status}}` (https://cloud.google.com/bigquery/docs/error-messages).
 */

const STATUS_BY_CODE: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'ALREADY_EXISTS',
  412: 'FAILED_PRECONDITION',
  413: 'INVALID_ARGUMENT',
  500: 'INTERNAL',
  501: 'UNIMPLEMENTED',
};

/** One entry of `error.errors` (BigQuery's ErrorProto). */
export interface ErrorProto {
  message: string;
  domain?: string;
  reason: string;
  location?: string;
  locationType?: string;
  debugInfo?: string;
}

export class ApiError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly location: string | undefined;
  readonly locationType: string | undefined;
  readonly status: string;

  constructor(
    code: number,
    reason: string,
    message: string,
    options: { location?: string; locationType?: string; status?: string; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'ApiError';
    this.code = code;
    this.reason = reason;
    this.location = options.location;
    this.locationType = options.locationType;
    this.status = options.status ?? STATUS_BY_CODE[code] ?? 'UNKNOWN';
  }

  /** The ErrorProto for job status (`status.errorResult` / `status.errors`). */
  proto(): ErrorProto {
    return {
      reason: this.reason,
      ...(this.location !== undefined ? { location: this.location } : {}),
      message: this.message,
    };
  }

  body(): { error: { code: number; message: string; errors: ErrorProto[]; status: string } } {
    return {
      error: {
        code: this.code,
        message: this.message,
        errors: [
          {
            message: this.message,
            domain: 'global',
            reason: this.reason,
            ...(this.location !== undefined ? { location: this.location } : {}),
            ...(this.locationType !== undefined ? { locationType: this.locationType } : {}),
          },
        ],
        status: this.status,
      },
    };
  }
}

export const invalid = (message: string, location?: string) =>
  new ApiError(400, 'invalid', message, location === undefined ? {} : { location, locationType: 'other' });

export const notFound = (message: string) => new ApiError(404, 'notFound', `Not found: ${message}`);

export const duplicate = (message: string) => new ApiError(409, 'duplicate', `Already Exists: ${message}`);

/** A query that BigQuery would reject (syntax, names, types) or that failed while running. */
export const invalidQuery = (message: string) =>
  new ApiError(400, 'invalidQuery', message, { location: 'query', locationType: 'other' });

/** A GoogleSQL construct the emulator does not translate; BigQuery might accept it. */
export const unsupported = (what: string) =>
  invalidQuery(`${what} is not supported by the BigQuery emulator`);

export const internal = (cause: unknown) =>
  new ApiError(500, 'internalError', 'An internal error occurred and the request could not be completed.', {
    cause,
  });

/** A request value as text: strings as they are, anything else as JSON (for messages and ids). */
export function text(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === undefined) return '';
  return JSON.stringify(value) ?? '';
}
