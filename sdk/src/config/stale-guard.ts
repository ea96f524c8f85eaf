import { KonError, KonErrorCode } from "../errors";
import type { RevisionTracker } from "./revision-tracker";

/** Options of `cfg.guard`. */
export interface GuardOptions {
  /**
   * How old the last proof that the handle runs the newest revision may be. Required: the right
   * bound depends on the work (how much harm a few seconds of an old value can do).
   */
  maxStalenessMs: number;
  /**
   * How long the guard may wait for NATS to confirm the newest revision when the last proof is
   * too old (one direct get, then applying what it found).
   * @default maxStalenessMs, at least 100 and at most 1000
   */
  confirmTimeoutMs?: number;
}

/** What the source of a hub can say about its live link (see {@link FreshnessTracker}). */
export interface SourceContact {
  /** Last time the server sent the watch anything (a message or an idle heartbeat); undefined: never. */
  readonly atMs: number | undefined;
  /** Highest revision the watch received, applied or not. */
  readonly deliveredRevision: number;
}

/** The parts of a config source the tracker reads. */
export interface ContactSource {
  /** Absent for a source that is read directly (a local folder): it cannot be stale. */
  contact?(): SourceContact | undefined;
  freshen(key: string, timeoutMs: number): Promise<number>;
}

/** A handle's view of how fresh its value is. */
export interface Freshness {
  /** Last instant the value was proven newest; undefined when never. */
  readonly provenAtMs: number | undefined;
  /** What is stale, for the error, when the proof is old ("" when fresh by construction). */
  readonly why: string;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * Tracks, per connection and group, the proofs that a key's applied value is the newest one the
 * source holds. Two kinds of proof count:
 * - the watch is healthy: the NATS server sent it a message or an idle heartbeat (the watch asks
 *   for one every 300 ms) at time T, and every revision it had received by then is applied. The
 *   server sends an ordered consumer's heartbeat only while the consumer is current, and the
 *   watch re-creates a consumer that skipped a message, so at T nothing newer was held back;
 * - a confirmation: a direct get of the key's last message in the bucket's stream answered with a
 *   revision that is (then) applied. The proof is dated when the request was sent.
 */
export class FreshnessTracker {
  private readonly confirmedAt = new Map<string, number>();
  private readonly confirming = new Map<string, Promise<void>>();

  constructor(
    private readonly source: ContactSource,
    private readonly revisions: RevisionTracker,
  ) {}

  freshness(key: string): Freshness {
    if (!this.source.contact) return { provenAtMs: Date.now(), why: "" };
    const confirmed = this.confirmedAt.get(key);
    const c = this.source.contact();
    let watchAt: number | undefined;
    let why: string;
    if (!c || c.atMs === undefined) {
      why = "the config watch has not loaded from NATS yet";
    } else if (this.revisions.revision < c.deliveredRevision) {
      why = `revision ${c.deliveredRevision} was received but is not applied yet`;
    } else {
      watchAt = c.atMs;
      why = `the config watch has had no message or heartbeat from NATS since ${iso(c.atMs)}`;
    }
    const provenAtMs =
      watchAt === undefined ? confirmed : Math.max(watchAt, confirmed ?? Number.NEGATIVE_INFINITY);
    return { provenAtMs, why };
  }

  /**
   * Asks the source for the key's newest revision and waits until it is applied (or refused:
   * the process then knowingly keeps its last good value). One request per key at a time.
   * @throws KonError `CONFIG_UNAVAILABLE` when that does not happen within `timeoutMs`
   */
  confirm(key: string, timeoutMs: number): Promise<void> {
    const running = this.confirming.get(key);
    if (running) return running;
    const p = this.confirmOnce(key, timeoutMs).finally(() => this.confirming.delete(key));
    this.confirming.set(key, p);
    return p;
  }

  private async confirmOnce(key: string, timeoutMs: number): Promise<void> {
    const started = Date.now();
    const latest = await this.source.freshen(key, timeoutMs);
    const left = started + timeoutMs - Date.now();
    if (latest > this.revisions.revision && !(await this.revisions.waitFor(latest, left))) {
      throw new KonError(
        KonErrorCode.ConfigUnavailable,
        `config ${key}: revision ${latest} not applied within ${timeoutMs} ms`,
      );
    }
    this.confirmedAt.set(key, Math.max(started, this.confirmedAt.get(key) ?? 0));
  }
}

/** Thrown by `cfg.guard` when the handle may run an old value. */
export class StaleConfigError extends KonError {
  constructor(
    readonly key: string,
    /** Revision the handle runs. */
    readonly revision: number,
    /** Last time it was proven newest; undefined when never. */
    readonly staleSinceMs: number | undefined,
    readonly maxStalenessMs: number,
    why: string,
    cause?: unknown,
  ) {
    const since =
      staleSinceMs === undefined
        ? "never confirmed"
        : `last confirmed ${iso(staleSinceMs)} (${Date.now() - staleSinceMs} ms ago)`;
    const failed = cause === undefined ? "" : `; confirming with NATS failed: ${errorText(cause)}`;
    super(
      KonErrorCode.StaleConfig,
      `config ${key} may be stale: running revision ${revision}, ${since}, allowed ${maxStalenessMs} ms; ${why}${failed}`,
      { cause },
    );
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** What {@link guardRun} needs from a handle. */
export interface GuardedHandle<V> {
  readonly key: string;
  readonly revision: number;
  readonly value: V;
}

/**
 * Runs `fn(value)` if the handle's value was proven newest within `maxStalenessMs`, confirming
 * with the source first when the last proof is older; otherwise throws {@link StaleConfigError}.
 */
export async function guardRun<V, R>(
  handle: GuardedHandle<V>,
  tracker: FreshnessTracker,
  fn: (value: V) => R | Promise<R>,
  opts: GuardOptions,
): Promise<R> {
  const { maxStalenessMs, confirmTimeoutMs } = checkGuardOptions(opts);
  const fresh = tracker.freshness(handle.key);
  if (fresh.provenAtMs !== undefined && Date.now() - fresh.provenAtMs <= maxStalenessMs) {
    return fn(handle.value);
  }
  try {
    await tracker.confirm(handle.key, confirmTimeoutMs);
  } catch (err) {
    throw new StaleConfigError(
      handle.key,
      handle.revision,
      tracker.freshness(handle.key).provenAtMs,
      maxStalenessMs,
      fresh.why,
      err,
    );
  }
  return fn(handle.value);
}

function checkGuardOptions(opts: GuardOptions): Required<GuardOptions> {
  const bad = (field: string, v: unknown): KonError =>
    new KonError(
      KonErrorCode.InvalidOptions,
      `invalid guard option ${field}: ${JSON.stringify(v)} (a whole number of milliseconds, 1 to 86400000)`,
    );
  const ok = (v: unknown): v is number =>
    typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= 86_400_000;
  if (!opts || !ok(opts.maxStalenessMs)) throw bad("maxStalenessMs", opts?.maxStalenessMs);
  const confirm = opts.confirmTimeoutMs ?? Math.min(Math.max(opts.maxStalenessMs, 100), 1000);
  if (!ok(confirm)) throw bad("confirmTimeoutMs", opts.confirmTimeoutMs);
  return { maxStalenessMs: opts.maxStalenessMs, confirmTimeoutMs: confirm };
}
