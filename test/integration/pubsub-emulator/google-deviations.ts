/**
 * Checklist items of ../shared/PUBSUB-BEHAVIOUR.md (Section 1) that Google's emulator
 * (gcloud pubsub-emulator 0.8.20) is known to get wrong, with the evidence from Section 2 of that
 * document. Against that target these tests run as `todo`: they still assert the documented rule
 * and their observed outcome is recorded (.tmp/pubsub-conformance/google.json), but a failure does
 * not fail the run.
 */
export const GOOGLE_EMULATOR_DEVIATIONS: Readonly<Record<number, string>> = {
  4: 'label updates are rejected ("labels is not a known Subscription field") (§2 row 40)',
  5: 'topic label updates are rejected; DetachSubscription and the IAM methods answer UNIMPLEMENTED (§2 rows 40-41)',
  9: 'attribute count and size, ordering-key size and >10 MB messages are not enforced (§2 row 38)',
  10: 'messages with different ordering keys are accepted in one request (§2 row 38)',
  13: 'ack deadlines below 10 s are accepted and stored (§2 row 34)',
  14: 'ModifyAckDeadline above 600 s is accepted (§2 row 35)',
  19: 'max_outstanding_messages on a later StreamingPull request is accepted (§2 row 30)',
  23: 'never ends StreamingPull streams, so a client reconnect cannot be exercised (§2 row 44)',
  24: 'StreamingPull max_outstanding_messages is not enforced (§2 row 30)',
  28: 'a nack inside an ordering key redelivers only that message, not the rest of the key (§2 row 6)',
  31: 'an ordered subscription with a dead-letter policy breaks after max attempts: no DLQ copy, Pull fails with UNKNOWN (§2 row 8)',
  32: 'out-of-range max_delivery_attempts is rejected with OUT_OF_RANGE, not INVALID_ARGUMENT (§2 row 12)',
  35: 'retry policy: the first redelivery is not delayed and later gaps are coarse (§2 rows 15-17)',
  36: 'push body has neither orderingKey nor deliveryAttempt (§2 row 20)',
  37: 'HTTP 202 from a push endpoint is treated as a failure (§2 row 22)',
  38: 'no push backoff: failing pushes are retried about every second forever (§2 row 23)',
  39: 'no Authorization header although oidc_token is configured (§2 row 21)',
  40: 'no-wrapper ordering key header is x-goog-ordering-key, not x-goog-pubsub-ordering-key (§2 row 26)',
  42: 'exactly-once delivery is accepted on push subscriptions (observed by this suite)',
  45: 'filters are stored but not applied and invalid filters are accepted (SDK 528; §2 row 19)',
  49: 'no default expiration_policy is reported and a TTL under 1 day is accepted (§2 row 39)',
  50: 'DetachSubscription answers UNIMPLEMENTED (§2 row 41)',
};
