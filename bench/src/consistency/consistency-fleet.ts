import { join } from "node:path";
import { z } from "zod";
import { Konorkestra } from "@konorkestra/sdk";
import type { Logger } from "@konorkestra/sdk";
import type { TestClientOptions } from "@konorkestra/testkit";
import type { SwapPassProbe } from "./swap-pass-probe";

// performance.timeOrigin is a getter that costs as much as performance.now(): read it once, so
// that taking the time in 1,000 handlers adds as little as possible to the spread it measures.
const ORIGIN = performance.timeOrigin;
const now = (): number => ORIGIN + performance.now();

/** One round: the instant each handle saw the value with `v`, until all did. */
class Round {
  readonly times: number[] = [];
  private resolve: () => void = () => undefined;
  readonly done: Promise<void>;

  constructor(
    readonly v: number,
    private readonly expected: number,
    private readonly probe?: SwapPassProbe,
  ) {
    this.done = new Promise((r) => (this.resolve = r));
  }

  seen(at: number): void {
    this.times.push(at);
    const last = this.times.length === this.expected;
    this.probe?.seen(at, this.times.length, last);
    if (last) this.resolve();
  }
}

/**
 * `connections` SDK connections in this process, `handles` handles on one key spread over them,
 * each connection beating (so the liveness monitor lists it as a voter of STRONG writes) and
 * voting. Every handle's onChange records when it saw a value: that is where a node applied it.
 */
export class ConsistencyFleet {
  private round: Round | undefined;
  private constructor(private readonly kons: Konorkestra[]) {}

  static async start(p: {
    client: TestClientOptions;
    group: string;
    key: string;
    connections: number;
    handles: number;
    snapshotRoot: string;
    logger: Logger;
  }): Promise<ConsistencyFleet> {
    const kons: Konorkestra[] = [];
    const fleet = new ConsistencyFleet(kons);
    await Promise.all(
      Array.from({ length: p.connections }, async (_, c) => {
        const kon = await Konorkestra.connect({
          ...p.client,
          group: p.group,
          nodeId: `bench-${c}`,
          service: "bench-consistency",
          snapshotDir: join(p.snapshotRoot, `conn-${c}`),
          connectTimeoutMs: 10_000,
          logger: p.logger,
        });
        kons.push(kon);
        const schema = z.object({ v: z.number() });
        const share =
          Math.floor(p.handles / p.connections) + (c < p.handles % p.connections ? 1 : 0);
        for (let h = 0; h < share; h++) {
          const cfg = await kon.config(p.key, schema);
          cfg.onChange((next) => {
            const at = now();
            if (fleet.round?.v === next.v) fleet.round.seen(at);
          });
        }
        kon.heartbeat({ intervalMs: 1000 });
      }),
    );
    return fleet;
  }

  /** Arms a round for value `v` seen by `expected` handles (instrumented by `probe`, if given). */
  expect(v: number, expected: number, probe?: SwapPassProbe): Round {
    this.round = new Round(v, expected, probe);
    return this.round;
  }

  async close(): Promise<void> {
    await Promise.all(this.kons.map((k) => k.close().catch(() => undefined)));
  }
}

export type { Round };
export { now as preciseNow };
