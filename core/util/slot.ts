/**
 * A memo kept on the object it is about, under a private symbol: one property load per lookup where
 * a WeakMap costs a hash probe, and young-generation GCs do not have to trace ephemeron tables.
 * Used for per-entity derivations on the hot path (entities are plain decoded objects). The
 * property is non-enumerable, so keys, JSON and deep comparisons of the entity do not see it;
 * an object that cannot take properties (frozen) falls back to a WeakMap.
 */
export class Slot<K extends object, V> {
  private readonly sym: symbol;
  private fallback: WeakMap<K, V> | null = null;

  constructor(name: string) {
    this.sym = Symbol(name);
  }

  get(k: K): V | undefined {
    const v = (k as Record<symbol, V | undefined>)[this.sym];
    if (v !== undefined || this.fallback === null) return v;
    return this.fallback.get(k);
  }

  /** `v` must not be undefined. */
  set(k: K, v: V): void {
    const o = k as Record<symbol, V | undefined>;
    if (o[this.sym] !== undefined) {
      o[this.sym] = v; // writable, and found without a prototype walk: the property is own
      return;
    }
    try {
      Object.defineProperty(k, this.sym, { value: v, writable: true, enumerable: false, configurable: true });
    } catch {
      (this.fallback ??= new WeakMap()).set(k, v); // frozen or sealed
    }
  }
}
