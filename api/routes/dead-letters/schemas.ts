/** The dead-letter API's request and response shapes. */
import { z } from 'zod';
import { TimestampSchema } from '#shared/contracts/values.ts';
import { DEAD_LETTER_STATUSES, type DeadLetter } from '#shared/store/dead-letters.ts';
import { CursorSchema, LimitSchema } from '../../http.ts';

export const DeadLetterStatusSchema = z.enum(DEAD_LETTER_STATUSES);

const Name = z.string().min(1).max(255);

export const DeadLetterSchema = z
  .object({
    id: z.uuid(),
    status: DeadLetterStatusSchema,
    statusReason: z.string().optional().describe('Why it was redriven or discarded.'),
    sourceSubscription: z.string().describe('The subscription (consuming function) that gave up.'),
    sourceTopic: z.string().optional().describe('Where a redrive republishes it.'),
    messageId: z.string().describe('The message id at the source.'),
    eventId: z.string().optional(),
    eventType: z.string().optional(),
    orderId: z.string().optional(),
    orderingKey: z.string().optional(),
    attempts: z.number().int().min(0).describe('Deliveries before it was dead-lettered.'),
    lastError: z.string().optional().describe('Why the last attempt failed.'),
    attributes: z.record(z.string(), z.string()),
    data: z.string().describe('The message data, base64.'),
    payload: z.unknown().optional().describe('The data parsed as JSON, when it is JSON.'),
    deadLetteredAt: TimestampSchema,
    createdAt: TimestampSchema,
    updatedAt: TimestampSchema,
  })
  .meta({ id: 'DeadLetter' });

export function toDeadLetter(letter: DeadLetter): z.infer<typeof DeadLetterSchema> {
  let payload: unknown;
  try {
    payload = JSON.parse(letter.data.toString('utf8'));
  } catch {
    payload = undefined;
  }
  return {
    id: letter.id,
    status: letter.status,
    ...(letter.statusReason ? { statusReason: letter.statusReason } : {}),
    sourceSubscription: letter.sourceSubscription,
    ...(letter.sourceTopic ? { sourceTopic: letter.sourceTopic } : {}),
    messageId: letter.messageId,
    ...(letter.eventId ? { eventId: letter.eventId } : {}),
    ...(letter.eventType ? { eventType: letter.eventType } : {}),
    ...(letter.orderId ? { orderId: letter.orderId } : {}),
    ...(letter.orderingKey ? { orderingKey: letter.orderingKey } : {}),
    attempts: letter.attempts,
    ...(letter.lastError ? { lastError: letter.lastError } : {}),
    attributes: letter.attributes,
    data: letter.data.toString('base64'),
    ...(payload === undefined ? {} : { payload }),
    deadLetteredAt: letter.deadLetteredAt.toISOString(),
    createdAt: letter.createdAt.toISOString(),
    updatedAt: letter.updatedAt.toISOString(),
  };
}

export const DeadLetterIdParamsSchema = z.object({ id: z.uuid().transform((id) => id.toLowerCase()) });

export const ListDeadLettersQuerySchema = z.strictObject({
  status: DeadLetterStatusSchema.optional(),
  subscription: Name.optional().describe('Only those of this subscription (saga, notifier, …).'),
  orderId: Name.optional(),
  eventType: Name.optional(),
  limit: LimitSchema,
  cursor: CursorSchema.optional(),
});

export const DeadLetterCursorSchema = z.object({ t: TimestampSchema, i: z.uuid() });

export const DeadLetterPageSchema = z
  .object({
    items: z.array(DeadLetterSchema),
    nextCursor: z.string().optional().describe('Absent on the last page.'),
  })
  .meta({ id: 'DeadLetterPage' });

const Reason = z.string().trim().min(1).max(500);

export const RedriveBodySchema = z
  .strictObject({ reason: Reason.optional().describe('Why (the fix), for the audit log.') })
  .meta({ id: 'Redrive' });

export const DiscardBodySchema = z
  .strictObject({ reason: Reason.describe('Why it is dropped, for the audit log.') })
  .meta({ id: 'Discard' });

export const BulkRedriveBodySchema = z
  .strictObject({
    filter: z
      .strictObject({
        subscription: Name.optional(),
        orderId: Name.optional(),
        eventType: Name.optional(),
      })
      .describe('Which open dead letters; all open ones when empty.'),
    limit: z.number().int().min(1).max(1_000).default(100).describe('At most this many per call.'),
    reason: Reason.optional(),
  })
  .meta({ id: 'BulkRedrive' });

export const RedrivenSchema = z
  .object({ deadLetter: DeadLetterSchema, messageId: z.string().describe('The republished message id.') })
  .meta({ id: 'Redriven' });

export const BulkRedrivenSchema = z
  .object({
    redriven: z.array(z.object({ id: z.uuid(), messageId: z.string() })),
    failed: z.array(z.object({ id: z.uuid(), error: z.string() })),
  })
  .meta({ id: 'BulkRedriven' });
