/**
 * A stack of local components started in order and stopped in reverse. Each component reports
 * the endpoints a person needs and the environment lines a tool needs.
 */
export interface RunningComponent {
  name: string;
  /** Label → address, printed for people. */
  endpoints: Record<string, string>;
  /** Environment variables a producer, analyst or later component needs. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

export interface Component {
  name: string;
  /** Starts the component; `env` holds what earlier components exported. */
  start(env: Readonly<Record<string, string>>): Promise<RunningComponent>;
}

export interface RunningStack {
  components: readonly RunningComponent[];
  env: Readonly<Record<string, string>>;
  stop(): Promise<void>;
}

/** Starts every component in order; if one fails, stops those already started and rethrows. */
export async function startStack(
  components: readonly Component[],
  onProgress: (message: string) => void = () => {},
): Promise<RunningStack> {
  const running: RunningComponent[] = [];
  const env: Record<string, string> = {};
  const stopAll = async () => {
    for (const component of [...running].reverse()) {
      await component
        .stop()
        .catch((error: unknown) => onProgress(`stopping ${component.name} failed: ${String(error)}`));
    }
    running.length = 0;
  };
  try {
    for (const component of components) {
      const started = performance.now();
      const result = await component.start(env);
      running.push(result);
      Object.assign(env, result.env);
      onProgress(`${component.name} ready in ${Math.round(performance.now() - started)} ms`);
    }
  } catch (error) {
    await stopAll();
    throw error;
  }
  let stopping: Promise<void> | undefined;
  return { components: running, env, stop: () => (stopping ??= stopAll()) };
}

/**
 * Components started at the same time, as one: ready when every one is (if one fails, the others
 * are stopped and the failure rethrown); stopped together. Their endpoints and env are merged.
 */
export function together(name: string, components: readonly Component[]): Component {
  return {
    name,
    async start(env) {
      const outcomes = await Promise.allSettled(components.map((component) => component.start(env)));
      const running = outcomes.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []));
      const stop = async () => {
        const results = await Promise.allSettled(running.map((component) => component.stop()));
        const failed = results.find((result) => result.status === 'rejected');
        if (failed) throw failed.reason;
      };
      const failure = outcomes.find((outcome) => outcome.status === 'rejected');
      if (failure) {
        await stop().catch(() => undefined);
        throw failure.reason;
      }
      return {
        name,
        endpoints: Object.assign({}, ...running.map((component) => component.endpoints)) as Record<
          string,
          string
        >,
        env: Object.assign({}, ...running.map((component) => component.env)) as Record<string, string>,
        stop,
      };
    },
  };
}
