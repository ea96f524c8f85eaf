import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";
import { PrepareRequest, PrepareVote, decodeMessage, encodeMessage } from "@konorkestra/proto";
import type { ConfigEntry, SourceErrorInit } from "@konorkestra/proto";
import type { Logger } from "../logger";
import type { WireNames } from "../wire/names";

/** A candidate checked against this process's schemas; undefined when no handle watches its key. */
export type CandidateVerdict =
  { ok: true } | { ok: false; reason: string; valuePath: string; code: string } | undefined;

/**
 * The participant side of STRONG writes: answers every prepare request of the group with a vote.
 * Each candidate of a key this process watches is checked like a delivered value (sha256 of the
 * payload, JSON, every zod schema of the key's handles); the vote is no with the first refusal
 * (the schema error), yes otherwise. A candidate is never kept or applied: the only way a value
 * becomes current is its committed KV entry, so a coordinator that dies before committing leaves
 * nothing behind on the nodes.
 */
export class PrepareResponder {
  private sub: Subscription | undefined;

  constructor(
    private readonly names: WireNames,
    private readonly group: string,
    private readonly nodeId: string,
    private readonly check: (entry: ConfigEntry) => CandidateVerdict,
    private readonly logger: Logger,
  ) {}

  start(nc: NatsConnection): void {
    if (this.sub) return;
    this.sub = nc.subscribe(this.names.prepareSubject(this.group), {
      callback: (err, msg) => {
        if (!err) this.answer(msg);
      },
    });
  }

  stop(): void {
    this.sub?.unsubscribe();
    this.sub = undefined;
  }

  private answer(msg: Msg): void {
    if (!msg.reply) return;
    let req: PrepareRequest;
    try {
      req = decodeMessage(PrepareRequest, msg.data);
    } catch (err) {
      this.logger.warn(`ignoring an undecodable prepare request: ${String(err)}`);
      return;
    }
    const keys: string[] = [];
    let error: SourceErrorInit | undefined;
    for (const entry of req.entries) {
      const verdict = this.check(entry as ConfigEntry);
      if (!verdict) continue;
      keys.push(entry.key ?? "");
      if (!verdict.ok && !error) {
        error = {
          file: entry.sourcePath,
          reason: `config ${entry.key}: ${verdict.reason}`,
          code: verdict.code,
          valuePath: verdict.valuePath,
        };
      }
    }
    if (error) {
      this.logger.warn(`voting no on prepare ${req.prepareId}: ${error.reason ?? ""}`);
    }
    const vote = encodeMessage(PrepareVote, {
      prepareId: req.prepareId,
      nodeId: this.nodeId,
      ok: !error,
      error,
      keys,
      atMs: Date.now(),
    });
    try {
      msg.respond(vote);
    } catch (err) {
      this.logger.warn(`cannot answer prepare ${req.prepareId}: ${String(err)}`);
    }
  }
}
