/**
 * Given/when/then for pure deciders: given(past events) → when(command) → then(new events | error).
 * Past events are wrapped in envelopes with sequences 1..n for one order, as the store would.
 * A decider answers with events by default; the saga answers with the commands it will execute.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { envelop, type DomainEvent } from '#shared/contracts/events/index.ts';
import type { Decision } from '#shared/domain/order/decide.ts';

export interface Decider<State, Command, Output = Decision> {
  evolve: (state: State | undefined, event: DomainEvent) => State;
  decide: (state: State | undefined, command: Command) => Output[];
}

/** Envelopes drafts as one order's history, sequences from `firstSequence`. */
export function history(orderId: string, drafts: readonly Decision[], firstSequence = 1): DomainEvent[] {
  return drafts.map(
    (draft, index) =>
      envelop(orderId, draft.type, draft.data as never, {
        id: randomUUID(),
        time: new Date(Date.UTC(2026, 0, 1, 0, 0, index)).toISOString(),
        sequence: firstSequence + index,
        source: '//conveyor/test',
        correlationId: orderId,
      }) as DomainEvent,
  );
}

export function scenario<State, Command, Output = Decision>(decider: Decider<State, Command, Output>) {
  return {
    given(...past: Decision[]) {
      const orderId = randomUUID();
      const state = history(orderId, past).reduce<State | undefined>(decider.evolve, undefined);
      return {
        state,
        when(command: Command) {
          const act = () => decider.decide(state, command);
          return {
            then(...expected: Output[]) {
              assert.deepEqual(act(), expected);
            },
            thenNothing() {
              assert.deepEqual(act(), []);
            },
            thenThrows(errorClass: abstract new (...args: never[]) => Error, message?: RegExp) {
              assert.throws(act, (error: unknown) => {
                assert.ok(error instanceof errorClass, `expected ${errorClass.name}, got ${String(error)}`);
                if (message) assert.match(error.message, message);
                return true;
              });
            },
          };
        },
      };
    },
  };
}
