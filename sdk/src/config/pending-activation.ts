import { ConfigEntry, decodeMessage } from "@konorkestra/proto";
import type { ChangeBatch, RawChange } from "./raw-change";
import type { ServerClock } from "./server-clock";

/** A value received early, to become current at `activateAtMs` (server clock). */
export interface PendingChange {
  readonly change: RawChange;
  readonly activateAtMs: number;
}

/** What the hub does with pending values. */
export interface ActivationHooks {
  /**
   * The instant came: apply these changes as one batch. Applying a change clears its pending
   * value (`slot.pending`, the registry's `pendingRevision`).
   */
  activate(batch: ChangeBatch): void;
  /** `key`'s pending value is now `pending` (undefined: none any more). */
  pendingChanged(key: string, pending: PendingChange | undefined): void;
}

/** setTimeout's longest delay; a later instant is re-armed in steps. */
const MAX_DELAY_MS = 2 ** 31 - 1;
/** The timer fires this early; the rest is waited out by polling the clock (timers are ±1 ms). */
const EARLY_MS = 2;

/** The entry of a put, decoded once (kept on the change for the state to reuse); undefined if not one. */
export function entryOf(c: RawChange): ConfigEntry | undefined {
  if (c.op !== "put") return undefined;
  try {
    c.entry ??= decodeMessage(ConfigEntry, c.data ?? new Uint8Array());
    return c.entry;
  } catch {
    return undefined; // the state refuses it with the reason
  }
}

/** The instant a put waits for on `clock`, or 0 when it is current at once. */
export function scheduledAt(c: RawChange, clock: ServerClock): number {
  const at = Number(entryOf(c)?.activateAtMs ?? 0);
  return at > clock.now() ? at : 0;
}

/**
 * One timer per instant for the whole process: every connection's values due at one instant are
 * swapped in one pass, one after another without yielding, so handles of different connections
 * of a process do not swap a timer dispatch (or a GC pause) apart.
 */
class InstantTimers {
  private readonly byInstant = new Map<number, { timer: NodeJS.Timeout; fns: Set<() => void> }>();

  add(clock: ServerClock, at: number, fn: () => void): void {
    const slot = this.byInstant.get(at);
    if (slot) {
      slot.fns.add(fn);
      return;
    }
    const fns = new Set([fn]);
    this.byInstant.set(at, { timer: this.arm(clock, at), fns });
  }

  remove(at: number, fn: () => void): void {
    const slot = this.byInstant.get(at);
    if (!slot) return;
    slot.fns.delete(fn);
    if (slot.fns.size > 0) return;
    clearTimeout(slot.timer);
    this.byInstant.delete(at);
  }

  private arm(clock: ServerClock, at: number): NodeJS.Timeout {
    const delay = Math.min(MAX_DELAY_MS, Math.max(0, at - clock.now() - EARLY_MS));
    const t = setTimeout(() => {
      const slot = this.byInstant.get(at);
      if (!slot) return;
      if (at - clock.now() > EARLY_MS + 1) {
        slot.timer = this.arm(clock, at);
        return;
      }
      this.byInstant.delete(at);
      // Timers fire up to a few ms early or late; wait out the early part on the clock itself.
      while (clock.now() < at) {
        /* at most EARLY_MS of polling */
      }
      for (const fn of slot.fns) fn();
    }, delay);
    t.unref();
    return t;
  }
}

const instantTimers = new InstantTimers();

/**
 * Scheduled activation: a put whose `activate_at_ms` is still ahead (on the server's clock) is
 * taken out of its batch and held, one per key, until that instant, then applied as a batch of
 * its own. A newer revision of the key before the instant cancels it (a cancel is a new write of
 * the old content without `activate_at`); a newer scheduled one replaces it.
 */
export class PendingActivations {
  private readonly byKey = new Map<string, PendingChange>();
  /** Instant → its callback in the process-wide timers. */
  private readonly armed = new Map<number, () => void>();

  constructor(
    private readonly clock: ServerClock,
    private readonly hooks: ActivationHooks,
  ) {}

  get(key: string): PendingChange | undefined {
    return this.byKey.get(key);
  }

  /** The batch without its future-dated puts, which are now pending. */
  intercept(batch: ChangeBatch): ChangeBatch {
    if (batch.changes[0]?.origin === "file") return batch;
    let kept: RawChange[] | undefined;
    batch.changes.forEach((c, i) => {
      const held = this.byKey.get(c.key);
      if (held && c.revision > held.change.revision) this.drop(c.key);
      const at = scheduledAt(c, this.clock);
      if (at === 0) {
        kept?.push(c);
        return;
      }
      kept ??= batch.changes.slice(0, i);
      this.hold({ change: c, activateAtMs: at });
    });
    return kept ? { ...batch, changes: kept } : batch;
  }

  /** Drops every pending value (the source stops). */
  clear(): void {
    for (const [at, fn] of this.armed) instantTimers.remove(at, fn);
    this.armed.clear();
    for (const key of [...this.byKey.keys()]) this.drop(key);
  }

  private hold(p: PendingChange): void {
    this.byKey.set(p.change.key, p);
    this.hooks.pendingChanged(p.change.key, p);
    this.arm(p.activateAtMs);
  }

  private drop(key: string): void {
    if (!this.byKey.delete(key)) return;
    this.hooks.pendingChanged(key, undefined);
  }

  /** One callback per instant, shared by every key of this hub due then. */
  private arm(at: number): void {
    if (this.armed.has(at)) return;
    const fn = (): void => {
      this.armed.delete(at);
      this.fire(at);
    };
    this.armed.set(at, fn);
    instantTimers.add(this.clock, at, fn);
  }

  private fire(at: number): void {
    const due = [...this.byKey.values()].filter((p) => p.activateAtMs <= at);
    if (due.length === 0) return;
    const changes = due.map((p) => p.change).sort((a, b) => a.revision - b.revision);
    // No pendingChanged here: the values stay shown as pending until the hub applies them (at
    // once, or after the change set it is busy with), which clears them in the same step.
    for (const p of due) this.byKey.delete(p.change.key);
    this.hooks.activate({ kind: "set", changes, changeSetId: changes[0]!.changeSetId });
  }
}
