/** Waiting on conditions with a deadline (never a bare sleep standing in for a condition). */

/** Resolves with the first truthy result of `probe`, polled every `intervalMs`; rejects at the deadline. */
export async function waitUntil<T>(
  probe: () => T | Promise<T>,
  { timeoutMs = 20_000, intervalMs = 25, what = 'the condition' } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await probe();
    if (result) return result;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
