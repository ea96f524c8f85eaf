import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { KvWatchInclude, Kvm } from "@nats-io/kv";
import { connect, headers } from "@nats-io/transport-node";
import { NatsHeader, kvSubject } from "@konorkestra/sdk/internal";
import { startNats } from "@konorkestra/testkit";
import { collectDeadlines, countingSink, settledLastSeq, unwind } from "./case-driver";
import type { CaseDriver, DownListener } from "./case-driver";

const BUCKET = "bench_raw_nodes";
/** Markers must outlive anything the watch could need to recover (NATS-NOTES). */
const MARKER_TTL_MS = 15 * 60_000;

/** How the baseline writes a beat: core publish with `Nats-TTL`, or `js.publish` with `ttl`. */
export type RawNatsPublish = "core" | "js";

/**
 * Baseline "raw NATS markers": no monitor. The bench refreshes one key per node in a KV bucket
 * with `markerTTL` by publishing each beat to `$KV.<bucket>.<node>` with a per-message TTL
 * (`Nats-TTL: <ttl>s`, the header `js.publish(…, { ttl })` sets), and one KV watch waits for the
 * server's expiry marker (operation PURGE). A deadline is the stored timestamp of the key's last
 * message (read before it expires) + TTL.
 *
 * `core` publishes without waiting for an ack, as the monitor refreshes `kon_nodes` and as nodes
 * send heartbeats; what was stored is checked afterwards from the stream's sequence. `js`
 * awaits an ack per beat: 10,000 of those per second cost this process ~0.4 core on top of the
 * watch, and on a busy 2-core machine the simulator then falls seconds behind (timeouts pile up).
 */
export async function startRawNatsCase(ttlS: number, mode: RawNatsPublish): Promise<CaseDriver> {
  const steps: (() => Promise<unknown>)[] = [];
  try {
    const nats = await startNats();
    steps.push(() => nats.stop());
    const pub = await connect({ ...nats.clientOptions(), name: "bench-liveness-nodes" });
    steps.push(() => pub.close());
    const obs = await connect({ ...nats.clientOptions(), name: "bench-liveness-observer" });
    steps.push(() => obs.close());
    // Look-ups on a connection of their own: replies must not queue behind 10k watch entries/s.
    const ctl = await connect({ ...nats.clientOptions(), name: "bench-liveness-lookups" });
    steps.push(() => ctl.close());
    const kv = await new Kvm(obs).create(BUCKET, { history: 1, markerTTL: MARKER_TTL_MS });
    const lookups = await new Kvm(ctl).open(BUCKET);
    const jsm = await jetstreamManager(ctl);
    const js = jetstream(pub);
    const ttl = `${ttlS}s`;
    const ttlHeader = headers();
    ttlHeader.set(NatsHeader.Ttl, ttl);
    const ups = new Set<string>();
    let purges = 0;
    let errors = 0;
    let lastError = "";
    const sink = countingSink((node, payload) => {
      const subject = kvSubject(BUCKET, node);
      if (mode === "core") return pub.publish(subject, payload, { headers: ttlHeader });
      js.publish(subject, payload, { ttl }).catch((err: unknown) => {
        errors++;
        lastError = String(err);
      });
    });
    return {
      spec: {
        key: "raw_nats",
        label: "raw NATS markers (baseline)",
        deadlineBasis: "stored timestamp of the key's last message",
        detection: `KV watch entry PURGE (expiry marker) in ${BUCKET}`,
      },
      sink,
      processes: { "nats-server": nats.pid },
      versions: { "nats-server": obs.info?.version ?? "?" },
      watch: async (onDown: DownListener) => {
        const watch = await kv.watch({
          key: ">",
          include: KvWatchInclude.UpdatesOnly,
          headers_only: true,
        });
        steps.push(() => Promise.resolve(watch.stop()));
        void (async () => {
          for await (const e of watch) {
            if (e.operation === "PURGE") {
              purges++;
              onDown(e.key, Date.now(), `${e.revision}`);
            } else if (e.operation === "PUT") ups.add(e.key);
          }
        })();
      },
      upCount: () => ups.size,
      // The stream's last sequence counts every stored beat and every expiry marker.
      lostBeats: async (sent) => {
        await pub.flush();
        const stored = await settledLastSeq(
          async () => (await jsm.streams.info(`KV_${BUCKET}`)).state.last_seq,
        );
        return sent - (stored - purges);
      },
      deadlines: (nodes, ttlMs) =>
        collectDeadlines(nodes, async (node) => {
          const e = await lookups.get(node);
          return e?.operation === "PUT" ? { deadlineMs: e.created.getTime() + ttlMs } : undefined;
        }),
      notes: () => [
        `beats are ${mode === "core" ? "core publishes with Nats-TTL (no ack)" : "js.publish with ttl (acked)"}`,
        ...(errors > 0 ? [`${errors} KV publishes failed (last: ${lastError})`] : []),
      ],
      close: () => unwind(steps),
    };
  } catch (err) {
    await unwind(steps);
    throw err;
  }
}
