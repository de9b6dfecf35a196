/**
 * The error family shared by every deployable. Domain errors carry no HTTP status: the API maps
 * classes to statuses in one error handler, and consumers decide ack / nack / dead-letter from
 * `retryable`.
 */
export interface ConveyorErrorOptions {
  cause?: unknown;
  retryable?: boolean;
}

export class ConveyorError extends Error {
  readonly retryable: boolean;

  constructor(message: string, options: ConveyorErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.retryable = options.retryable ?? false;
  }
}

/** One failing field or value: where it is and what is wrong with it. */
export interface ValidationIssue {
  path: string;
  message: string;
}

/** Input that can never succeed as given (bad body, schema-invalid event). Not retryable. */
export class ValidationError extends ConveyorError {
  readonly issues: readonly ValidationIssue[];

  constructor(message: string, issues: readonly ValidationIssue[] = [], options: ConveyorErrorOptions = {}) {
    super(message, { ...options, retryable: false });
    this.issues = issues;
  }
}

/** A command the current state does not allow (cancel a completed order). */
export class InvalidTransitionError extends ConveyorError {
  readonly state: string;
  readonly command: string;

  constructor(state: string, command: string, reason?: string) {
    super(reason ?? `cannot ${command} in state ${state}`, { retryable: false });
    this.state = state;
    this.command = command;
  }
}

export class NotFoundError extends ConveyorError {
  readonly resource: string;
  readonly id: string;

  constructor(resource: string, id: string) {
    super(`${resource} ${id} not found`, { retryable: false });
    this.resource = resource;
    this.id = id;
  }
}

/** Someone else changed the thing first (expected version mismatch). Retrying after a re-read may succeed. */
export class ConcurrencyError extends ConveyorError {
  constructor(message: string, options: ConveyorErrorOptions = {}) {
    super(message, { retryable: true, ...options });
  }
}

/** A request conflicts with stored state and will not succeed by retrying as is (reused idempotency key). */
export class ConflictError extends ConveyorError {
  constructor(message: string, options: ConveyorErrorOptions = {}) {
    super(message, { retryable: false, ...options });
  }
}

/** A dependency (database, Pub/Sub, a provider) failed or is unavailable. Retryable unless said otherwise. */
export class DependencyError extends ConveyorError {
  readonly dependency: string;

  constructor(dependency: string, message: string, options: ConveyorErrorOptions = {}) {
    super(`${dependency}: ${message}`, { retryable: true, ...options });
    this.dependency = dependency;
  }
}

/** Bad configuration found at start-up; the process should exit. */
export class ConfigError extends ConveyorError {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = problems;
  }
}

/** True when retrying the same operation later may succeed. Unknown errors count as transient. */
export function isRetryable(error: unknown): boolean {
  return error instanceof ConveyorError ? error.retryable : true;
}
