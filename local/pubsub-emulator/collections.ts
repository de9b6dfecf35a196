/** Small data structures for the delivery engine: a FIFO deque and a bucketed timer index. */

/** A FIFO queue with O(1) push/shift that compacts its backing array now and then. */
export class Deque<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }
}

/** Something kept in a {@link TimerIndex}; `slot` is owned by the index (-1 when not scheduled). */
export interface Timed {
  slot: number;
}

/**
 * Items due at a time, grouped into buckets of `resolutionMs`. Rescheduling an item is O(1)
 * (move between sets), which matters because every delivered message is rescheduled at least
 * once (the client's receipt ModifyAckDeadline). An item never fires early: it fires in the
 * first sweep at or after the end of its bucket.
 */
export class TimerIndex<T extends Timed> {
  private readonly buckets = new Map<number, Set<T>>();
  private readonly heap: number[] = [];
  private readonly resolutionMs: number;

  constructor(resolutionMs = 25) {
    this.resolutionMs = resolutionMs;
  }

  get size(): number {
    let n = 0;
    for (const bucket of this.buckets.values()) n += bucket.size;
    return n;
  }

  schedule(item: T, at: number): void {
    const slot = Math.ceil(at / this.resolutionMs);
    if (item.slot === slot) return;
    this.cancel(item);
    let bucket = this.buckets.get(slot);
    if (!bucket) {
      bucket = new Set();
      this.buckets.set(slot, bucket);
      heapPush(this.heap, slot);
    }
    bucket.add(item);
    item.slot = slot;
  }

  cancel(item: T): void {
    if (item.slot < 0) return;
    this.buckets.get(item.slot)?.delete(item);
    item.slot = -1;
  }

  /** Time (ms) of the earliest non-empty bucket, or undefined. */
  nextDue(): number | undefined {
    while (this.heap.length > 0) {
      const slot = this.heap[0]!;
      const bucket = this.buckets.get(slot);
      if (bucket && bucket.size > 0) return slot * this.resolutionMs;
      this.buckets.delete(slot);
      heapPop(this.heap);
    }
    return undefined;
  }

  /** Removes and returns every item due at `now`, earliest bucket first, in scheduling order. */
  takeDue(now: number): T[] {
    const due: T[] = [];
    const limit = Math.floor(now / this.resolutionMs);
    while (this.heap.length > 0 && this.heap[0]! <= limit) {
      const slot = heapPop(this.heap)!;
      const bucket = this.buckets.get(slot);
      this.buckets.delete(slot);
      if (!bucket) continue;
      for (const item of bucket) {
        item.slot = -1;
        due.push(item);
      }
    }
    return due;
  }

  clear(): void {
    for (const bucket of this.buckets.values()) for (const item of bucket) item.slot = -1;
    this.buckets.clear();
    this.heap.length = 0;
  }
}

function heapPush(heap: number[], value: number): void {
  heap.push(value);
  let i = heap.length - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (heap[parent]! <= value) break;
    heap[i] = heap[parent]!;
    i = parent;
  }
  heap[i] = value;
}

function heapPop(heap: number[]): number | undefined {
  const top = heap[0];
  const last = heap.pop();
  if (heap.length === 0 || last === undefined) return top;
  let i = 0;
  for (;;) {
    const left = 2 * i + 1;
    if (left >= heap.length) break;
    const right = left + 1;
    const child = right < heap.length && heap[right]! < heap[left]! ? right : left;
    if (heap[child]! >= last) break;
    heap[i] = heap[child]!;
    i = child;
  }
  heap[i] = last;
  return top;
}
