import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { spawnTs } from "@konorkestra/testkit";
import { measureCpu } from "./process-cpu";
import type { CpuSources, CpuUse } from "./process-cpu";

/**
 * The floors under the drain, read from the same backlog right after the drain phase
 * (`analytics/scripts/drain-floor.ts`): `deliver` (an AckNone consumer read by analytics'
 * PullReader: the server's store -> wire alone), `ack` (+ one `+ACK` per message, as analytics'
 * AckExplicit consumer needs), `ingest` (the real StreamIngester and heartbeat decoding, BEGIN and
 * COMMIT, but no rows written: analytics minus its database writes).
 */
export const FLOOR_MODES = ["deliver", "ack", "ingest"] as const;
export type FloorMode = (typeof FLOOR_MODES)[number];

export interface DrainFloor {
  readonly mode: FloorMode;
  readonly rows: number;
  /** KON_HB sequences of the first and the last message read (the backlog's own, checked). */
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly seconds: number;
  readonly rowsPerSec: number;
  /** nats-server, PostgreSQL and the floor's reader (`reader`), over the reading only. */
  readonly cpu: CpuUse;
}

const SCRIPT = join(__dirname, "..", "..", "..", "analytics", "scripts", "drain-floor.ts");

interface FloorLine {
  ready?: boolean;
  rows?: number;
  first_seq?: number;
  last_seq?: number;
  seconds?: number;
  rows_per_s?: number;
}

/**
 * Runs one floor mode as its own process; CPU is measured from its "go" to its result. A floor
 * that has no result within `timeoutMs` (the backlog is not there) is killed and rejects.
 */
export async function measureDrainFloor(
  mode: FloorMode,
  env: Record<string, string>,
  sources: CpuSources,
  startSeq: number,
  count: number,
  timeoutMs = 300_000,
): Promise<DrainFloor> {
  // KON_BENCH_ANALYTICS_NODE_ARGS (e.g. "--cpu-prof"): the analytics processes' node flags, the
  // floor's reader included, to profile it.
  const nodeArgs = (process.env.KON_BENCH_ANALYTICS_NODE_ARGS ?? "").split(" ").filter(Boolean);
  const child: ChildProcess = spawnTs(
    SCRIPT,
    ["--mode", mode, "--start-seq", String(startSeq), "--count", String(count)],
    { env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "pipe"], nodeArgs },
  );
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-5000)));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  let timer: NodeJS.Timeout | undefined;
  const next = async (what: string): Promise<FloorLine> => {
    for (;;) {
      const r = await Promise.race([
        lines.next(),
        exited.then((code) => ({ exit: code })),
        new Promise<{ timeout: true }>((res) => {
          timer = setTimeout(() => res({ timeout: true }), timeoutMs);
        }),
      ]);
      clearTimeout(timer);
      if ("exit" in r || "timeout" in r || r.done) {
        child.kill("SIGTERM");
        await exited;
        const why = "timeout" in r ? ` within ${timeoutMs} ms` : "";
        throw new Error(`drain floor (${mode}): no ${what} line${why}:\n${stderr}`);
      }
      const text = String(r.value).trim();
      if (text.startsWith("{")) return JSON.parse(text) as FloorLine;
    }
  };
  await next("ready");
  const stopCpu = measureCpu({ ...sources, reader: child.pid ?? -1 });
  child.stdin?.write("go\n");
  const res = await next("result");
  const cpu = stopCpu();
  child.stdin?.end();
  const code = await exited;
  if (code !== 0 || res.rows === undefined || res.seconds === undefined) {
    throw new Error(`drain floor (${mode}) failed (exit ${code}):\n${stderr}`);
  }
  const firstSeq = res.first_seq ?? 0;
  const lastSeq = res.last_seq ?? 0;
  if (res.rows !== count || firstSeq !== startSeq || lastSeq < firstSeq + count - 1) {
    throw new Error(
      `drain floor (${mode}) read ${res.rows} messages, sequences ${firstSeq}..${lastSeq}, ` +
        `not the ${count} from ${startSeq} it was given`,
    );
  }
  const rowsPerSec = res.rows / res.seconds;
  return { mode, rows: res.rows, firstSeq, lastSeq, seconds: res.seconds, rowsPerSec, cpu };
}
