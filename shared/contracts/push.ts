/**
 * The body Pub/Sub POSTs to a push endpoint (the wrapped format), which is how every Conveyor
 * function receives its messages in production and locally.
 * https://cloud.google.com/pubsub/docs/push#receive_push
 */
import { z } from 'zod';

export const PushMessageSchema = z.object({
  /** Base64; absent when the message has attributes only. */
  data: z.string().optional(),
  attributes: z.record(z.string(), z.string()).optional(),
  messageId: z.string().min(1),
  publishTime: z.string().min(1),
  orderingKey: z.string().optional(),
});

export const PushRequestSchema = z.object({
  message: PushMessageSchema,
  /** projects/{project}/subscriptions/{subscription} */
  subscription: z.string().regex(/^projects\/[^/]+\/subscriptions\/[^/]+$/),
  /** Present when the subscription has a dead-letter policy: 1 on first delivery. */
  deliveryAttempt: z.number().int().min(1).optional(),
});
export type PushRequest = z.infer<typeof PushRequestSchema>;
