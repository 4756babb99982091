/**
 * Memos kept on the objects they are about: per-entity derivations on the hot path (ancestry,
 * gate decisions, entity codes) without a WeakMap probe per lookup.
 *
 * The decoder stamps every entity it creates (stamp()) with one private field, empty until a Slot
 * stores something: a small array with a place per Slot name. A private field is invisible to
 * keys, JSON, spread and deep comparisons, and stamping at creation gives every entity of a type
 * the same hidden class. (Adding a property later, as Object.defineProperty does, cost ~0.5 µs per
 * entity and split the entities' hidden classes, which slowed every reader of their fields.)
 * Objects not stamped (built by tests or plugins) fall back to a WeakMap.
 *
 * Places are numbered per kind of object (process, file …), so that each array is as small as the
 * Slots used on that kind, and Slots of one name share their place, so that it stays small however
 * many policy reloads create new Slots: a newer Slot overwrites what an older one of its name kept,
 * so values must say whose they are (each user checks an owner).
 */

/** A base class whose constructor returns its argument: a subclass's fields are added to that object. */
class Identity {
  constructor(o: object) {
    // biome-ignore lint/correctness/noConstructorReturn: the point of this class (see above)
    return o;
  }
}

class Memos extends Identity {
  #places: unknown[] | undefined = undefined;

  static stamp<T extends object>(o: T): T {
    return new Memos(o) as unknown as T;
  }

  /** The object's places; undefined while empty; null when the object is not stamped. */
  static places(o: object): unknown[] | undefined | null {
    return #places in o ? (o as Memos).#places : null;
  }

  static setPlaces(o: object, p: unknown[]): void {
    (o as Memos).#places = p;
  }
}

/** Give a freshly decoded object its (empty) memo field. */
export const stamp: <T extends object>(o: T) => T = Memos.stamp;

/** Per kind of object: place numbers by Slot name. */
const kinds = new Map<string, Map<string, number>>();

export class Slot<K extends object, V> {
  private readonly index: number;
  private readonly places: Map<string, number>;
  private fallback: WeakMap<K, V> | null = null;

  /** `kind`: what objects it is used on (one kind per Slot); `name`: what it keeps. */
  constructor(
    kind: string,
    readonly name: string,
  ) {
    let places = kinds.get(kind);
    if (places === undefined) kinds.set(kind, (places = new Map()));
    let i = places.get(name);
    if (i === undefined) places.set(name, (i = places.size));
    this.index = i;
    this.places = places;
  }

  get(k: K): V | undefined {
    const p = Memos.places(k);
    if (p !== null) return p === undefined ? undefined : (p[this.index] as V | undefined);
    return this.fallback === null ? undefined : this.fallback.get(k);
  }

  /** `v` must not be undefined. */
  set(k: K, v: V): void {
    const p = Memos.places(k);
    if (p === null) {
      (this.fallback ??= new WeakMap()).set(k, v);
      return;
    }
    if (p !== undefined) {
      p[this.index] = v;
      return;
    }
    const fresh = new Array<unknown>(this.places.size).fill(undefined);
    fresh[this.index] = v;
    Memos.setPlaces(k, fresh);
  }
}
