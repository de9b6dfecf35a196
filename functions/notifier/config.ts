/** The notifier function's environment, parsed once by index.ts. */
import { z } from 'zod';
import { isEventOf, NOTIFIABLE_EVENTS } from '#shared/contracts/catalogue.ts';
import { functionConfigSchema } from '#shared/functions/runtime.ts';
import { DEFAULT_NOTIFIED_EVENTS, SubscriberSchema } from './handler.ts';

const commaList = (fallback: readonly string[]) =>
  z
    .string()
    .transform((value) =>
      value
        .split(',')
        .map((item) => item.trim())
        .filter(Boolean),
    )
    .default([...fallback]);

export const notifierConfigSchema = functionConfigSchema.extend({
  /** Secrets the notifications are signed with; comma-separated while one is rotated. */
  NOTIFIER_SIGNING_SECRET: z
    .string()
    .transform((value) => value.split(',').map((secret) => secret.trim()))
    .refine((secrets) => secrets.every((secret) => secret.length >= 16), {
      message: 'expected secrets of at least 16 characters, comma-separated',
    }),
  /** JSON: [{"id":"shop-a","url":"https://…","events":["order.completed.v1"]}, …]. */
  NOTIFIER_SUBSCRIBERS: z
    .string()
    .default('[]')
    .transform((text, context) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        context.addIssue({ code: 'custom', message: 'expected a JSON array of subscribers' });
        return z.NEVER;
      }
    })
    .pipe(z.array(SubscriberSchema)),
  /** Event types announced, comma-separated; only notifiable ones reach the notifier at all. */
  NOTIFIER_EVENTS: commaList(DEFAULT_NOTIFIED_EVENTS).refine(
    (types) => types.every((type) => isEventOf(NOTIFIABLE_EVENTS, type)),
    {
      message: `expected event types of ${NOTIFIABLE_EVENTS.join(', ')} (its subscription lets only these through)`,
    },
  ),
});
