import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";
import { PrepareRequest, PrepareVote, decodeMessage, encodeMessage } from "@konorkestra/proto";
import type { ConfigEntry, SourceErrorInit } from "@konorkestra/proto";
import type { Logger } from "../logger";
import type { WireNames } from "../wire/names";
import { prepareReplyPrefix } from "../wire/permissions";

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
 *
 * Only the config-loader's prepares are answered: no headers, a reply under the loader's prepare
 * reply prefix for this group (members may not publish there, so a vote cannot be diverted) that
 * ends in the request's own prepare id, and the request naming this group. Anything else on the
 * prepare subject is ignored and counted: a member of another group may make JetStream push its
 * own bucket's messages here (a push consumer's deliver subject is not checked by the server);
 * those carry a `$JS.ACK.` reply and are dropped before being decoded.
 */
export class PrepareResponder {
  private sub: Subscription | undefined;
  private readonly replyPrefix: string;
  /** Messages on the prepare subject that were not the loader's prepares (ignored). */
  ignored = 0;

  constructor(
    private readonly names: WireNames,
    private readonly group: string,
    private readonly nodeId: string,
    private readonly check: (entry: ConfigEntry) => CandidateVerdict,
    private readonly logger: Logger,
  ) {
    this.replyPrefix = `${prepareReplyPrefix(names, group)}.`;
  }

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

  /** Counts a message that is not a prepare; says so the first time and every 1000th. */
  private ignore(msg: Msg, why: string): void {
    this.ignored++;
    if (this.ignored === 1 || this.ignored % 1000 === 0) {
      this.logger.warn(
        `ignored ${this.ignored} message(s) on ${this.names.prepareSubject(this.group)} that are ` +
          `not the config-loader's prepare requests (last: ${why}; subject ` +
          `${JSON.stringify(msg.subject.slice(0, 80))}, reply ${JSON.stringify((msg.reply ?? "").slice(0, 80))})`,
      );
    }
  }

  private answer(msg: Msg): void {
    // Cheap checks first: a JetStream delivery has a `$JS.ACK.` reply and usually headers.
    if (!msg.reply || !msg.reply.startsWith(this.replyPrefix)) {
      return this.ignore(msg, "reply is not the config-loader's prepare reply subject");
    }
    if (msg.headers) return this.ignore(msg, "a prepare request has no headers");
    let req: PrepareRequest;
    try {
      req = decodeMessage(PrepareRequest, msg.data);
    } catch (err) {
      return this.ignore(msg, `undecodable: ${String(err)}`);
    }
    if (msg.reply !== this.replyPrefix + req.prepareId || req.group !== this.group) {
      return this.ignore(msg, "reply or group does not match the request");
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
