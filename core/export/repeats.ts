/**
 * Warnings that keep coming back during an outage (every retry fails the same way, or alternates
 * between two ways) are each logged once; their repeats are counted and told as one line each,
 * `… (repeated N times in T s)`, after `windowMs`, then after windows twice as long each time (up to
 * an hour) while they go on, and when the episode ends.
 */
export class Repeats {
  /** Per key: the last text, repeats not yet told, and when counting started. */
  private readonly seen = new Map<string, { text: string; count: number; since: number }>();
  private lastFlush = 0;
  private window: number;

  constructor(
    private readonly say: (line: string) => void,
    private readonly windowMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {
    this.window = windowMs;
  }

  /** Log `text` unless `key` was already said in this episode (then count it). */
  note(key: string, text: string): void {
    const t = this.now();
    const s = this.seen.get(key);
    if (s === undefined) {
      if (this.seen.size === 0) this.lastFlush = t;
      this.seen.set(key, { text, count: 0, since: t });
      this.say(text);
      return;
    }
    s.count++;
    s.text = text;
    if (t - this.lastFlush >= this.window) {
      this.flush(t);
      this.window = Math.min(this.window * 2, 3_600_000);
    }
  }

  /** The episode is over: tell the repeats; a later note() is logged whatever it says. */
  end(): void {
    this.flush(this.now());
    this.seen.clear();
    this.window = this.windowMs;
  }

  private flush(t: number): void {
    for (const s of this.seen.values()) {
      if (s.count > 0) {
        const secs = Math.max(1, Math.round((t - s.since) / 1000));
        this.say(`${s.text} (repeated ${s.count} time${s.count === 1 ? '' : 's'} in ${secs} s)`);
      }
      s.count = 0;
      s.since = t;
    }
    this.lastFlush = t;
  }
}
