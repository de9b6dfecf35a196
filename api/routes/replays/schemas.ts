/** The replay API's request and response shapes. */
import { z } from 'zod';
import { TimestampSchema } from '#shared/contracts/values.ts';
import { ReplayConsumerSchema, ReplayRequestSchema } from '#shared/replay/request.ts';
import { progressOf, REPLAY_STATUSES, type Replay as StoredReplay } from '#shared/replay/store.ts';
import { CursorSchema, LimitSchema } from '../../http.ts';

export const ReplayStatusSchema = z.enum(REPLAY_STATUSES);

export const CreateReplayHeadersSchema = z.object({
  'idempotency-key': z
    .string()
    .min(1)
    .max(255)
    .regex(/^[\x21-\x7e]+$/, 'expected 1-255 visible ASCII characters')
    .optional()
    .describe(
      'The same key (and body) again returns the same replay. Without a key, the same request by the ' +
        'same API key within the idempotency window returns the same replay unless it failed or was cancelled.',
    ),
});

export const ReplaySchema = z
  .object({
    id: z.uuid(),
    status: ReplayStatusSchema,
    consumer: ReplayConsumerSchema,
    request: ReplayRequestSchema.describe('What was asked for (normalized).'),
    requestedBy: z.string().describe('The API key (name) that asked for it.'),
    progress: z.object({
      published: z.number().int().min(0).describe('Events published so far.'),
      total: z.number().int().min(0).nullable().describe('Matching events; null until the replay starts.'),
      percent: z.number().min(0).max(100).nullable(),
      eventsPerSecond: z.number().min(0).nullable().describe('Average publish rate since it started.'),
      etaSeconds: z.number().int().min(0).nullable().describe('Seconds left at that rate.'),
    }),
    runs: z.number().int().min(0).describe('Times an instance took it on (a restart adds one).'),
    lastError: z.string().optional().describe('The latest publish error, or why it failed.'),
    createdAt: TimestampSchema,
    startedAt: TimestampSchema.optional(),
    updatedAt: TimestampSchema,
    finishedAt: TimestampSchema.optional(),
  })
  .meta({ id: 'Replay' });
export type Replay = z.infer<typeof ReplaySchema>;

export function toReplay(replay: StoredReplay, now: Date): Replay {
  return {
    id: replay.id,
    status: replay.status,
    consumer: replay.consumer,
    request: replay.request,
    requestedBy: replay.requestedBy,
    progress: progressOf(replay, now),
    runs: replay.runs,
    ...(replay.lastError ? { lastError: replay.lastError } : {}),
    createdAt: replay.createdAt.toISOString(),
    ...(replay.startedAt ? { startedAt: replay.startedAt.toISOString() } : {}),
    updatedAt: replay.updatedAt.toISOString(),
    ...(replay.finishedAt ? { finishedAt: replay.finishedAt.toISOString() } : {}),
  };
}

export const ReplayIdParamsSchema = z.object({ id: z.uuid().transform((id) => id.toLowerCase()) });

export const ListReplaysQuerySchema = z.strictObject({
  status: ReplayStatusSchema.optional(),
  limit: LimitSchema,
  cursor: CursorSchema.optional(),
});

export const ReplayCursorSchema = z.object({ c: TimestampSchema, i: z.uuid() });

export const ReplayPageSchema = z
  .object({ items: z.array(ReplaySchema), nextCursor: z.string().optional() })
  .meta({ id: 'ReplayPage' });
