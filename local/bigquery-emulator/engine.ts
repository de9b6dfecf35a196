/**
 * DuckDB underneath the emulator. One writer connection, used by one request at a time, for DDL,
 * DML and streamed rows; a small pool of reader connections for queries, which DuckDB's MVCC lets
 * run beside the writer. Every connection runs in UTC, sorts NULLs first ascending as BigQuery
 * does, and reports errors as JSON so that positions can be mapped back to the GoogleSQL text.
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { MACROS } from './sql/macros.ts';

export interface EngineOptions {
  /** DuckDB database file; in memory when absent. */
  file?: string;
  readers?: number;
}

/** A promise chain that runs one task at a time, in arrival order. */
class Mutex {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task, task);
    this.tail = result.catch(() => {});
    return result;
  }
}

export class Engine {
  private readonly writeLock = new Mutex();
  private readonly idle: DuckDBConnection[] = [];
  private readonly waiting: ((connection: DuckDBConnection) => void)[] = [];
  private closed = false;
  private readonly instance: DuckDBInstance;
  private readonly writer: DuckDBConnection;
  private readonly readers: DuckDBConnection[];

  private constructor(instance: DuckDBInstance, writer: DuckDBConnection, readers: DuckDBConnection[]) {
    this.instance = instance;
    this.writer = writer;
    this.readers = readers;
    this.idle.push(...readers);
  }

  static async open(options: EngineOptions = {}): Promise<Engine> {
    const instance = await DuckDBInstance.create(options.file ?? ':memory:', { threads: '2' });
    const connect = async () => {
      const connection = await instance.connect();
      await connection.run(
        "SET TimeZone = 'UTC'; SET default_null_order = 'nulls_first_on_asc_last_on_desc'; SET errors_as_json = true",
      );
      return connection;
    };
    const writer = await connect();
    for (const macro of MACROS) await writer.run(macro);
    const readers: DuckDBConnection[] = [];
    for (let i = 0; i < (options.readers ?? 3); i++) readers.push(await connect());
    return new Engine(instance, writer, readers);
  }

  /** Runs `task` with the writer connection, after every write queued before it. */
  write<T>(task: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error('the BigQuery emulator is stopping'));
    return this.writeLock.run(() => task(this.writer));
  }

  /** Runs `task` with a reader connection of its own. */
  async read<T>(task: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
    if (this.closed) throw new Error('the BigQuery emulator is stopping');
    const connection =
      this.idle.pop() ?? (await new Promise<DuckDBConnection>((resolve) => this.waiting.push(resolve)));
    try {
      return await task(connection);
    } finally {
      const next = this.waiting.shift();
      if (next) next(connection);
      else {
        this.idle.push(connection);
        if (this.idle.length === this.readers.length) this.onIdle?.();
      }
    }
  }

  private onIdle: (() => void) | undefined;

  /** Refuses new work, lets running work finish (interrupting queries after a grace period), checkpoints and closes DuckDB. */
  async close(graceMs = 2_000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.writeLock.run(async () => {});
    if (this.idle.length < this.readers.length) {
      const idle = new Promise<void>((resolve) => (this.onIdle = resolve));
      const timer = setTimeout(() => {
        for (const connection of this.readers) connection.interrupt();
      }, graceMs);
      await idle;
      clearTimeout(timer);
    }
    for (const connection of this.readers) connection.closeSync();
    try {
      await this.writer.run('CHECKPOINT');
    } catch {
      // Nothing to checkpoint in memory; closing is what matters.
    }
    this.writer.closeSync();
    this.instance.closeSync();
  }
}
