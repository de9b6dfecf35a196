/**
 * Preloaded into every test file's process (test/run.ts passes `--import` to the runner, which
 * hands it to each child). With --test-force-exit, a child calls process.exit() as soon as its
 * last test ends, while the report it wrote to its stdout pipe may still be queued: the parent
 * then counts fewer tests than ran and can lose a failure's name and error
 * (https://github.com/nodejs/node/issues/64833). Here the exit waits until stdout has drained.
 *
 * Only in the runner's children (NODE_TEST_CONTEXT): processes the tests start do not get this
 * preload, and the parent's own exit is left alone.
 */
/** The most an exit waits for the pipe (a parent that stopped reading must not hang the child). */
const MAX_WAIT_MS = 10_000;

if (process.env.NODE_TEST_CONTEXT) {
  const exit = process.exit.bind(process);
  process.exit = (code?: number | string | null): never => {
    if (code !== undefined && code !== null) process.exitCode = code;
    const deadline = Date.now() + MAX_WAIT_MS;
    // First a turn of the event loop, so that the reporter's last events reach stdout; then until
    // stdout has handed everything to the pipe (writableLength counts both; 'drain' would only
    // come after a refused write, so poll).
    const exitWhenDrained = () => {
      if (process.stdout.writableLength === 0 || Date.now() > deadline) exit();
      else setTimeout(exitWhenDrained, 5);
    };
    setImmediate(exitWhenDrained);
    return undefined as never;
  };
}
