/** Whole numbers appended to a growing Int32Array (doubled when full), read back by index or taken whole. */
export class IntList {
  private a: Int32Array;
  length = 0;

  constructor(capacity = 1024) {
    this.a = new Int32Array(capacity);
  }

  push(v: number): void {
    if (this.length === this.a.length) {
      const bigger = new Int32Array(this.a.length * 2);
      bigger.set(this.a);
      this.a = bigger;
    }
    this.a[this.length++] = v;
  }

  get(i: number): number {
    return this.a[i]!;
  }

  clear(): void {
    this.length = 0;
  }

  /** The numbers so far as one exact-size array; the list is then empty. */
  take(): Int32Array {
    const out = this.a.slice(0, this.length);
    this.length = 0;
    return out;
  }
}
