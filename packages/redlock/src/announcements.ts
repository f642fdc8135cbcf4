/** Release announcements remembered per key (a holder announces once per node). */
const RECENT = 16;

/**
 * The keys this instance waits on, and the holders that recently announced releasing them.
 *
 * A release reaches us once per node. Only the first announcement of a holder wakes a waiter:
 * its attempt decides. If the other nodes' releases were still on their way, the attempt sees
 * that holder in {@link releasing} and retries shortly instead of sleeping out its leases.
 */
export class ReleaseAnnouncements {
  /** Channel -> key, for the keys being waited on. */
  readonly #channels = new Map<string, string>();
  /** Key -> first 16 characters of the tokens whose release was announced, newest last. */
  readonly #recent = new Map<string, string[]>();

  constructor(private readonly wake: (key: string) => void) {}

  watch(channel: string, key: string): void {
    this.#channels.set(channel, key);
  }

  unwatch(channel: string, key: string): void {
    this.#channels.delete(channel);
    this.#recent.delete(key);
  }

  /** A message arrived on `channel`, announcing that `holder` released there. */
  heard(channel: string, holder: string): void {
    const key = this.#channels.get(channel);
    if (key === undefined) return;
    const recent = this.#recent.get(key) ?? [];
    if (recent.includes(holder)) return;
    recent.push(holder);
    if (recent.length > RECENT) recent.shift();
    this.#recent.set(key, recent);
    this.wake(key);
  }

  /**
   * A subscriber reconnected: a release announced meanwhile was never heard, so every key's next
   * waiter re-checks instead of sleeping out the holder's lease.
   */
  wakeAll(): void {
    for (const key of new Set(this.#channels.values())) this.wake(key);
  }

  /** Holders of `key` known to be releasing it. */
  releasing(key: string): ReadonlySet<string> {
    return new Set(this.#recent.get(key));
  }
}
