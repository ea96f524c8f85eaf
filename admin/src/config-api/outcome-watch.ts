import type { KV } from "@nats-io/kv";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { ConfigEntry, ConfigEvent, decodeMessage } from "@konorkestra/proto";
import type { WireNames } from "@konorkestra/sdk/internal";

/** What the API waits for after committing one key. */
export interface Awaited {
  key: string;
  /** Canonical payload sha256 (the ConfigEntry's). */
  sha256: string;
  /** Source path relative to the config root, as the loader names it in events. */
  sourcePath: string;
}

/** A node that refused (or did not answer) a strong write's prepare. */
export interface RefusingNode {
  node: string;
  reason: string;
}

export type KeyOutcome =
  | { key: string; kind: "published"; revision: number; entry: ConfigEntry }
  | {
      key: string;
      kind: "rejected" | "aborted";
      reason: string;
      code: string;
      valuePath: string;
      nodes: RefusingNode[];
    }
  | { key: string; kind: "pending" }
  /** A later commit replaced the content in the folder before the loader published it. */
  | { key: string; kind: "superseded"; by: string };

/**
 * Follows the group's config events (a core subscription, opened before the commit so nothing is
 * missed) and the bucket, until each awaited key is published with its sha256, refused by the
 * loader (`config.rejected` without a node), or abandoned (`config.aborted`, or a rejection that
 * names a prepare round), or replaced in the folder by a later commit (`superseded`), or the time
 * is up (`pending`).
 */
export class OutcomeWatch {
  private readonly sub: Subscription;
  private readonly events: ConfigEvent[] = [];

  constructor(
    nc: NatsConnection,
    names: WireNames,
    group: string,
    private readonly kv: KV,
    private readonly sinceMs: number,
  ) {
    this.sub = nc.subscribe(`${names.prefix}.evt.${group}.config.>`, {
      callback: (err, msg) => {
        if (err) return;
        try {
          this.events.push(decodeMessage(ConfigEvent, msg.data));
        } catch {
          // not a ConfigEvent: not ours to judge here
        }
      },
    });
  }

  /**
   * Waits for every key (bounded by `timeoutMs` in all); polls the bucket every `pollMs`.
   * `supersededBy` answers the commit that replaced a key's content in the folder, if one did
   * (another writer): the loader may then never publish this content, so waiting is pointless.
   */
  async wait(
    keys: Awaited[],
    timeoutMs: number,
    supersededBy?: (a: Awaited) => Promise<string | undefined>,
    pollMs = 40,
  ): Promise<KeyOutcome[]> {
    const deadline = Date.now() + timeoutMs;
    const done = new Map<string, KeyOutcome>();
    for (;;) {
      for (const a of keys) {
        if (done.has(a.key)) continue;
        const o = await this.check(a);
        if (o) done.set(a.key, o);
        const by = o || !supersededBy ? undefined : await supersededBy(a);
        if (by) done.set(a.key, { key: a.key, kind: "superseded", by });
      }
      if (done.size === keys.length || Date.now() >= deadline) break;
      await new Promise((r) => setTimeout(r, pollMs));
    }
    return keys.map((a) => done.get(a.key) ?? { key: a.key, kind: "pending" });
  }

  close(): void {
    this.sub.unsubscribe();
  }

  private async check(a: Awaited): Promise<KeyOutcome | undefined> {
    const e = await this.kv.get(a.key).catch(() => null);
    if (e && e.operation === "PUT" && e.value.length > 0) {
      const entry = decodeMessage(ConfigEntry, e.value);
      if (entry.sha256 === a.sha256) {
        return { key: a.key, kind: "published", revision: e.revision, entry };
      }
    }
    return this.failure(a);
  }

  private failure(a: Awaited): KeyOutcome | undefined {
    const mine = (ev: ConfigEvent): boolean =>
      ev.key === a.key && Number(ev.atMs) >= this.sinceMs - 1000;
    const failed = this.events.find(
      (ev) =>
        mine(ev) &&
        !ev.nodeId &&
        (ev.kind === ConfigEvent.Kind.ABORTED ||
          (ev.kind === ConfigEvent.Kind.REJECTED &&
            (ev.prepareId !== "" || ev.sha256 === a.sha256 || ev.sourcePath === a.sourcePath))),
    );
    if (!failed) return undefined;
    const aborted = failed.kind === ConfigEvent.Kind.ABORTED || failed.prepareId !== "";
    const nodes = this.events
      .filter(
        (ev) =>
          mine(ev) &&
          ev.nodeId !== "" &&
          ev.kind === ConfigEvent.Kind.PREPARE_FAILED &&
          (!failed.prepareId || ev.prepareId === failed.prepareId),
      )
      .map((ev) => ({ node: ev.nodeId, reason: ev.error?.reason ?? "" }));
    return {
      key: a.key,
      kind: aborted ? "aborted" : "rejected",
      reason: failed.error?.reason ?? "",
      code: failed.error?.code ?? "",
      valuePath: failed.error?.valuePath ?? "",
      nodes,
    };
  }
}
