import { randomUUID } from "node:crypto";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { PrepareRequest, PrepareVote, decodeMessage, encodeMessage } from "@konorkestra/proto";
import type { ConfigEntryInit, SourceErrorInit } from "@konorkestra/proto";
import type { Logger } from "@konorkestra/sdk";
import { prepareReplyPrefix } from "@konorkestra/sdk/internal";
import type { WireNames } from "@konorkestra/sdk/internal";
import { LiveVoters } from "./live-voters";

/** A node that said no, with its first refusal (its schema error). */
export interface Refusal {
  node: string;
  error: SourceErrorInit;
}

/** How a prepare round ended. */
export interface PrepareOutcome {
  prepareId: string;
  /** True when every expected voter said yes in time and nobody said no. */
  ok: boolean;
  /** Nodes waited for. */
  voters: string[];
  yes: string[];
  refused: Refusal[];
  timedOut: string[];
  durationMs: number;
}

/** Runs a prepare round for candidates of one group (the strong-write path's seam). */
export interface Preparer {
  prepare(group: string, entries: ConfigEntryInit[], timeoutMs: number): Promise<PrepareOutcome>;
}

/**
 * The coordinator side of STRONG writes: sends the candidates on `<prefix>.prep.<group>`, waits
 * until every expected voter answered (or the timeout), and says whether all agreed. It writes
 * nothing: the caller commits (KV put) or aborts.
 */
export class PrepareCoordinator implements Preparer {
  private readonly voters: LiveVoters;

  constructor(
    private readonly nc: NatsConnection,
    private readonly names: WireNames,
    private readonly coordinatorId: string,
    private readonly logger: Logger,
  ) {
    this.voters = new LiveVoters(nc, names, logger);
  }

  async prepare(
    group: string,
    entries: ConfigEntryInit[],
    timeoutMs: number,
  ): Promise<PrepareOutcome> {
    const started = Date.now();
    const prepareId = `prep-${randomUUID()}`;
    const voters = await this.voters.of(
      group,
      entries.map((e) => e.key ?? ""),
    );
    const reply = `${prepareReplyPrefix(this.names, group)}.${prepareId}`;
    const deadlineMs = Date.now() + timeoutMs;
    const request = encodeMessage(PrepareRequest, {
      prepareId,
      group,
      entries,
      voters,
      deadlineMs,
      timeoutMs,
      coordinator: this.coordinatorId,
    });
    const tally = new Tally(prepareId, voters);
    let sub: Subscription | undefined;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      sub = this.nc.subscribe(reply, {
        callback: (err, msg) => {
          if (err) return done();
          if (tally.add(msg.data) && tally.complete()) done();
        },
      });
      this.nc.publish(this.names.prepareSubject(group), request, { reply });
      if (voters.length === 0) done();
    });
    sub?.unsubscribe();
    const outcome = tally.outcome(Date.now() - started);
    this.logger.info(
      `group ${group}: prepare ${prepareId} of ${entries.map((e) => e.key).join(", ")}: ` +
        (outcome.ok ? `${voters.length} node(s) agreed` : `abort (${describeFailures(outcome)})`) +
        ` in ${outcome.durationMs} ms`,
    );
    return outcome;
  }
}

/** Votes of one round. Unexpected voters count only when they say no. */
class Tally {
  private readonly yes = new Set<string>();
  private readonly refused = new Map<string, SourceErrorInit>();

  constructor(
    private readonly prepareId: string,
    private readonly expected: string[],
  ) {}

  /** True when the message was a vote of this round. */
  add(data: Uint8Array): boolean {
    let vote: PrepareVote;
    try {
      vote = decodeMessage(PrepareVote, data);
    } catch {
      return false;
    }
    if (vote.prepareId !== this.prepareId || !vote.nodeId) return false;
    if (vote.ok) this.yes.add(vote.nodeId);
    else this.refused.set(vote.nodeId, vote.error ?? { reason: "refused (no reason given)" });
    return true;
  }

  complete(): boolean {
    return this.expected.every((n) => this.yes.has(n) || this.refused.has(n));
  }

  outcome(durationMs: number): PrepareOutcome {
    const refused = [...this.refused].map(([node, error]) => ({ node, error }));
    const timedOut = this.expected.filter((n) => !this.yes.has(n) && !this.refused.has(n));
    return {
      prepareId: this.prepareId,
      ok: refused.length === 0 && timedOut.length === 0,
      voters: this.expected,
      yes: [...this.yes].sort(),
      refused: refused.sort((a, b) => (a.node < b.node ? -1 : 1)),
      timedOut,
      durationMs,
    };
  }
}

/** `node-2 refused: <reason>; node-3 did not answer within the timeout`. */
export function describeFailures(o: PrepareOutcome): string {
  const parts = o.refused.map((r) => `${r.node} refused: ${r.error.reason ?? ""}`);
  if (o.timedOut.length > 0) {
    parts.push(`${o.timedOut.join(", ")} did not answer within the timeout (down or partitioned)`);
  }
  return parts.join("; ");
}
