import { jetstream } from "@nats-io/jetstream";
import { headers } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { ConfigEvent, encodeMessage } from "@konorkestra/proto";
import type { ConfigEventInit } from "@konorkestra/proto";
import type { AppliedRegistry, AppliedRevision } from "../applied-registry";
import type { Logger } from "../logger";
import { NatsHeader } from "../wire/headers";
import type { WireNames } from "../wire/names";

/** When the reporter sends what it collected. */
export interface AppliedReporterTiming {
  /** A change waits at most this long before it is sent. @default 250 */
  flushMs: number;
  /** Keys waiting that trigger a send at once. @default 100 */
  maxBatch: number;
}

const DEFAULT_TIMING: AppliedReporterTiming = { flushMs: 250, maxBatch: 100 };
/** Keys kept while NATS is unreachable; one event per key, so this bounds memory, not history. */
const MAX_WAITING = 10_000;

/**
 * Publishes `config.applied` (ConfigEvent APPLIED with this node's id) for every key whose
 * running or pending revision changed, read from the process's {@link AppliedRegistry}.
 *
 * Batched per connection and group: changes are collected per key (a newer state of a key
 * replaces the one waiting, so a burst of swaps costs one event per key), and sent every
 * `flushMs` or as soon as `maxBatch` keys wait, all publishes of a batch in flight together.
 * `at_ms` is the time the node applied the revision (not the send time), so analytics measures
 * convergence from the publish to the swap. Refusals are not repeated here: the rejection reporter
 * sends them at once as `config.rejected`. While NATS does not answer, states wait (newest per
 * key) and go out when it does. The event id
 * `app:<group>:<key>:<revision>[:p<pending>]:<node>:<noted ms>` names one observed state: a resend
 * of it is dropped by the stream, while a later return to an earlier state (a pending revision
 * cancelled, the same revision applied again after a restart) is a new fact with a new id.
 */
export class AppliedReporter {
  private readonly t: AppliedReporterTiming;
  private readonly waiting = new Map<string, ConfigEventInit>();
  /** Revision/pending last queued per key, so registry writes that change neither are skipped. */
  private readonly last = new Map<string, string>();
  private nc: NatsConnection | undefined;
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> | undefined;
  private readonly unsubscribe: () => void;
  private stopped = false;
  private failing = false;
  private lastWarning = "";
  /** Events published so far (for logs and tests). */
  sent = 0;

  constructor(
    registry: AppliedRegistry,
    private readonly names: WireNames,
    private readonly group: string,
    private readonly nodeId: string,
    private readonly logger: Logger,
    timing: Partial<AppliedReporterTiming> = {},
  ) {
    this.t = { ...DEFAULT_TIMING, ...timing };
    for (const [key, rev] of Object.entries(registry.snapshot())) this.note(key, rev);
    this.unsubscribe = registry.onChange((key, rev) => this.note(key, rev));
  }

  /** Starts publishing (what waits goes first). */
  attach(nc: NatsConnection): void {
    this.nc = nc;
    this.schedule();
  }

  /** Sends what waits now; resolves when this attempt is over. */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.kick();
    await this.sending;
    if (this.waiting.size > 0 && !this.sending) this.kick();
    await this.sending;
  }

  /** Stops listening and sends what waits (bounded by the caller). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe();
    await this.flush();
  }

  private note(key: string, rev: AppliedRevision | undefined): void {
    if (this.stopped || !rev || rev.revision <= 0) return;
    const pending =
      rev.pendingRevision && rev.pendingRevision > rev.revision ? rev.pendingRevision : 0;
    const state = `${rev.revision}:${pending}`;
    if (this.last.get(key) === state) return;
    this.last.set(key, state);
    if (!this.waiting.has(key) && this.waiting.size >= MAX_WAITING) {
      const [oldest] = this.waiting.keys();
      if (oldest !== undefined) this.waiting.delete(oldest);
      this.logger.warn(`config.applied: more than ${MAX_WAITING} keys waiting; dropped ${oldest}`);
    }
    this.waiting.delete(key); // re-insert: the map's order is the order of the newest change
    this.waiting.set(key, {
      eventId: `app:${this.group}:${key}:${rev.revision}${pending ? `:p${pending}` : ""}:${this.nodeId}:${Date.now()}`,
      group: this.group,
      key,
      kind: ConfigEvent.Kind.APPLIED,
      revision: rev.revision,
      sha256: rev.sha256,
      nodeId: this.nodeId,
      atMs: rev.appliedAtMs,
      pendingRevision: pending,
    });
    this.schedule();
  }

  private schedule(): void {
    if (!this.nc || this.waiting.size === 0) return;
    if (this.waiting.size >= this.t.maxBatch) {
      this.kick();
      return;
    }
    if (this.timer) return;
    // After a failed send, retry at a calmer pace until NATS answers again.
    const delay = this.failing ? Math.max(this.t.flushMs, 1000) : this.t.flushMs;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.kick();
    }, delay);
    this.timer.unref();
  }

  private kick(): void {
    if (!this.nc || this.sending || this.waiting.size === 0) return;
    const batch = [...this.waiting.values()];
    this.waiting.clear();
    this.sending = this.send(this.nc, batch).finally(() => {
      this.sending = undefined;
      this.schedule();
    });
  }

  private async send(nc: NatsConnection, batch: ConfigEventInit[]): Promise<void> {
    if (nc.isClosed()) return;
    const js = jetstream(nc);
    const subject = this.names.eventSubject(this.group, "config.applied");
    const results = await Promise.allSettled(
      batch.map((event) => {
        const h = headers();
        h.set(NatsHeader.MsgId, event.eventId ?? "");
        return js.publish(subject, encodeMessage(ConfigEvent, event), {
          headers: h,
          timeout: 2000,
        });
      }),
    );
    let failed: unknown;
    results.forEach((r, i) => {
      if (r.status === "fulfilled") {
        this.sent++;
        return;
      }
      failed ??= r.reason;
      const event = batch[i]!;
      // A newer state of the key may have arrived meanwhile; it wins.
      if (!this.waiting.has(event.key ?? "")) this.waiting.set(event.key ?? "", event);
    });
    this.failing = failed !== undefined;
    if (!this.failing) this.lastWarning = "";
    const warning = `config.applied events not sent yet (retrying): ${String(failed)}`;
    if (this.failing && !this.stopped && warning !== this.lastWarning) {
      this.lastWarning = warning;
      this.logger.warn(warning);
    }
  }
}
