import { jetstream } from "@nats-io/jetstream";
import { headers } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { ConfigEvent, encodeMessage } from "@konorkestra/proto";
import type { ConfigEventInit } from "@konorkestra/proto";
import type { Logger } from "../logger";
import type { WireNames } from "../wire/names";
import { NatsHeader } from "../wire/headers";

/** A value this node refused. */
export interface Rejection {
  key: string;
  revision: number;
  sha256: string;
  changeSetId: string;
  sourcePath: string;
  reason: string;
  /** JSON Pointer of the first offending field ("" when the whole value is at fault). */
  valuePath: string;
  /** SourceError.code: `schema` (failed the zod schema) or `syntax` (not a JSON ConfigEntry). */
  code: "schema" | "syntax";
}

const MAX_QUEUED = 256;

/**
 * Publishes `config.rejected` events (ConfigEvent REJECTED with this node's id) to KON_EVENTS.
 * While there is no connection, or a publish fails, events wait in a bounded queue (oldest
 * dropped with a warning past 256) and go out on the next report or `flush()`; the event id
 * `rej:<group>:<key>:<revision>:<node>` makes a repeat harmless.
 */
export class RejectionReporter {
  private readonly queue: ConfigEventInit[] = [];
  private nc: NatsConnection | undefined;
  private sending: Promise<void> | undefined;

  constructor(
    private readonly names: WireNames,
    private readonly group: string,
    private readonly nodeId: string,
    private readonly logger: Logger,
  ) {}

  /** Starts publishing (queued events first). */
  attach(nc: NatsConnection): void {
    this.nc = nc;
    this.kick();
  }

  report(r: Rejection): void {
    if (this.queue.length >= MAX_QUEUED) {
      const dropped = this.queue.shift();
      this.logger.warn(`dropping unsent config.rejected event ${dropped?.eventId ?? ""}`);
    }
    this.queue.push({
      eventId: `rej:${this.group}:${r.key}:${r.revision}:${this.nodeId}`,
      group: this.group,
      key: r.key,
      kind: ConfigEvent.Kind.REJECTED,
      revision: r.revision,
      sha256: r.sha256,
      changeSetId: r.changeSetId,
      sourcePath: r.sourcePath,
      error: { reason: r.reason, code: r.code, valuePath: r.valuePath, file: r.sourcePath },
      nodeId: this.nodeId,
      atMs: Date.now(),
    });
    this.kick();
  }

  /** Sends what is queued, if connected; resolves when this attempt is over. */
  async flush(): Promise<void> {
    this.kick();
    await this.sending;
  }

  private kick(): void {
    if (!this.nc || this.sending || this.queue.length === 0) return;
    this.sending = this.sendAll(this.nc).finally(() => {
      this.sending = undefined;
    });
  }

  private async sendAll(nc: NatsConnection): Promise<void> {
    const js = jetstream(nc);
    while (this.queue.length > 0 && !nc.isClosed()) {
      const event = this.queue[0]!;
      const h = headers();
      h.set(NatsHeader.MsgId, event.eventId ?? "");
      try {
        await js.publish(
          this.names.eventSubject(this.group, "config.rejected"),
          encodeMessage(ConfigEvent, event),
          { headers: h, timeout: 2000 },
        );
        this.queue.shift();
      } catch (err) {
        this.logger.warn(
          `config.rejected event ${event.eventId ?? ""} not sent yet: ${String(err)}`,
        );
        return;
      }
    }
  }
}
