/**
 * The push endpoint every consuming function runs. Pub/Sub delivers at least once; this turns the
 * outcome of one delivery into the answer Pub/Sub understands (https://cloud.google.com/pubsub/docs/push):
 *
 * - 204: processed (or already processed, or dead-lettered at once for a permanent error): acked.
 * - 500/503: a transient failure: nacked, so Pub/Sub redelivers with the subscription's backoff and,
 *   after the last attempt, forwards it to dead-letters itself. The error is recorded first, so
 *   that dead letter can say why.
 * - 400: not a Pub/Sub push body. 401: a bad token (checked locally; Cloud Run IAM in production).
 */
import { SUBSCRIPTIONS } from '#shared/contracts/catalogue.ts';
import { ATTRIBUTE } from '#shared/contracts/envelope.ts';
import { ConcurrencyError, DependencyError, isRetryable, ValidationError } from '#shared/errors.ts';
import { parseTraceHeaders, traceLogFields, type Logger } from '#shared/logging/index.ts';
import { decodePush, subscriptionName, type ReceivedMessage } from './codec.ts';
import type { DeadLetterSink } from './dead-letters.ts';
import { PushAuthError, type PushAuthenticator } from './push-auth.ts';

export interface PushContext {
  message: ReceivedMessage;
  /** The subscription's short name (saga, saga-replay, …). */
  subscription: string;
  logger: Logger;
}

export interface PushConsumer<T> {
  /** The consumer's name: its function's name. */
  name: string;
  /** Turns the message into the consumer's input; throw ValidationError when it never could. */
  parse(message: ReceivedMessage): T;
  /** The effect. Throw a retryable error to be redelivered, a non-retryable one to dead-letter. */
  handle(input: T, context: PushContext): Promise<void>;
}

export interface FailureLog {
  /** Remembers the latest error of a message at a subscription (best effort). */
  record(subscription: string, messageKey: string, error: string): Promise<void>;
}

export interface PushHandlerDeps {
  logger: Logger;
  deadLetters: DeadLetterSink;
  failures?: FailureLog | undefined;
  /** Verifies the push token; absent where the platform does (Cloud Run IAM). */
  authenticate?: PushAuthenticator | undefined;
  projectId: string;
  /**
   * Wraps the consumer once, when the handler is built (telemetry's instrumentConsumer: a span and
   * the consumed metrics per delivery), so every function is instrumented by its runtime alone.
   */
  instrument?: (<T>(consumer: PushConsumer<T>) => PushConsumer<T>) | undefined;
}

/** The minimal request and response a push handler needs (what functions-framework passes). */
export interface PushRequest {
  method?: string;
  headers: Record<string, string | string[] | undefined>;
  body?: unknown;
}
export interface PushResponse {
  status(code: number): PushResponse;
  send(body?: unknown): unknown;
}

export type PushOutcome = 'processed' | 'dead-lettered' | 'retry' | 'rejected';

/** The key a message's failures are recorded under: its event id, or its message id. */
export function messageKey(message: ReceivedMessage): string {
  return message.attributes[ATTRIBUTE.id] ?? message.messageId;
}

export function createPushHandler<T>(given: PushConsumer<T>, deps: PushHandlerDeps) {
  const consumer = deps.instrument ? deps.instrument(given) : given;
  const topicOf = (subscription: string) => SUBSCRIPTIONS.find((spec) => spec.name === subscription)?.topic;

  async function handle(
    request: PushRequest,
  ): Promise<{ status: number; outcome: PushOutcome; detail?: string }> {
    if (request.method && request.method !== 'POST') return { status: 405, outcome: 'rejected' };
    if (deps.authenticate) {
      try {
        await deps.authenticate(first(request.headers.authorization));
      } catch (error) {
        if (error instanceof PushAuthError)
          return { status: 401, outcome: 'rejected', detail: error.message };
        throw error;
      }
    }
    let message: ReceivedMessage;
    try {
      message = decodePush(request.body);
    } catch (error) {
      return {
        status: 400,
        outcome: 'rejected',
        detail: error instanceof Error ? error.message : String(error),
      };
    }
    const subscription = subscriptionName(message.subscription);
    const traceparent = message.attributes[ATTRIBUTE.traceparent];
    const logger = deps.logger.child({
      consumer: consumer.name,
      subscription,
      messageId: message.messageId,
      eventId: message.attributes[ATTRIBUTE.id],
      eventType: message.attributes[ATTRIBUTE.type],
      orderId: message.attributes[ATTRIBUTE.subject],
      deliveryAttempt: message.deliveryAttempt,
      ...traceLogFields(deps.projectId, parseTraceHeaders({ traceparent })),
    });
    const context: PushContext = { message, subscription, logger };

    try {
      await consumer.handle(consumer.parse(message), context);
      return { status: 204, outcome: 'processed' };
    } catch (error) {
      const reason = describe(error);
      if (!isRetryable(error)) {
        // Permanent: retrying cannot help and would hold up the ordering key. Forward it with its
        // reason, then ack. If forwarding fails, nack: nothing is lost, it comes back.
        try {
          await deps.deadLetters.deadLetter(message, reason, topicOf(subscription));
        } catch (forwardError) {
          logger.error({ error: forwardError }, 'could not dead-letter a message; it will be redelivered');
          return { status: 503, outcome: 'retry', detail: reason };
        }
        logger.warn({ reason }, 'dead-lettered: permanent error');
        return { status: 204, outcome: 'dead-lettered', detail: reason };
      }
      await deps.failures?.record(subscription, messageKey(message), reason).catch((recordError: unknown) => {
        logger.warn({ error: recordError }, 'could not record the failure');
      });
      logger.warn({ reason }, 'transient failure: Pub/Sub will redeliver');
      const unavailable = error instanceof DependencyError || error instanceof ConcurrencyError;
      return { status: unavailable ? 503 : 500, outcome: 'retry', detail: reason };
    }
  }

  return {
    /** The outcome of one request, for tests and other hosts. */
    handle,
    /** A functions-framework HTTP handler. */
    async http(request: PushRequest, response: PushResponse): Promise<void> {
      let result: Awaited<ReturnType<typeof handle>>;
      try {
        result = await handle(request);
      } catch (error) {
        deps.logger.error({ error }, 'push handler failed');
        result = { status: 500, outcome: 'retry' };
      }
      // The detail helps whoever reads the push endpoint's responses; it never holds a stack.
      response.status(result.status).send(result.status === 204 ? undefined : (result.detail ?? ''));
    },
  };
}

function describe(error: unknown): string {
  if (error instanceof ValidationError && error.issues.length > 0) {
    return `${error.message}: ${error.issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ')}`;
  }
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
