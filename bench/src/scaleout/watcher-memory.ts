import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { Konorkestra } from "@konorkestra/sdk";
import { ensureConfigBucket, wireNames } from "@konorkestra/sdk/internal";
import { startNats } from "@konorkestra/testkit";
import { collectMachineInfo, commandLine, formatMachineInfo } from "../machine-info";
import { residentMiB } from "../liveness/process-usage";
import { benchConfigSchema, encodeBenchEntry } from "../propagation/bench-config";

/**
 * What a config watcher costs in memory, for docs/scaling.md: C SDK connections (each one
 * `Konorkestra.connect`, as a service would, with one `kon.config` handle), then H more handles
 * on each connection sharing its schema. Prints the nats-server's RSS per connection and this
 * process's heap per connection and per extra handle. Usage:
 * `node testkit/src/run-ts.cjs bench/src/scaleout/watcher-memory.ts [connections] [handles]`.
 */
const GROUP = "mem";
const KEY = "checkout";
const out = (line: string): void => void process.stdout.write(`${line}\n`);
const mib = (bytes: number): number => bytes / 2 ** 20;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function heapMiB(): number {
  // Exposed with --expose-gc; without it the figure includes garbage.
  (globalThis as { gc?: () => void }).gc?.();
  return mib(process.memoryUsage().heapUsed);
}

async function main(): Promise<void> {
  const connections = Number(process.argv[2] ?? 200);
  const handles = Number(process.argv[3] ?? 10);
  const nats = await startNats();
  const snapshots = mkdtempSync(join(tmpdir(), "kon-watch-mem-"));
  const kons: Konorkestra[] = [];
  try {
    const writer = await connect({ ...nats.clientOptions(), name: "writer" });
    const names = wireNames("kon");
    await ensureConfigBucket(writer, names, GROUP);
    await jetstream(writer).publish(
      `$KV.${names.configBucket(GROUP)}.${KEY}`,
      encodeBenchEntry(KEY, 1),
    );
    await sleep(500);
    const server0 = residentMiB(nats.pid)?.rss ?? NaN;
    const heap0 = heapMiB();
    const schema = benchConfigSchema();
    for (let c = 0; c < connections; c++) {
      const kon = await Konorkestra.connect({
        ...nats.clientOptions(),
        group: GROUP,
        nodeId: `mem-${c}`,
        service: "bench-memory",
        snapshotDir: join(snapshots, `c${c}`),
      });
      kons.push(kon);
      await kon.config(KEY, schema);
    }
    await sleep(2000);
    const server1 = residentMiB(nats.pid)?.rss ?? NaN;
    const heap1 = heapMiB();
    for (const kon of kons) for (let h = 0; h < handles; h++) await kon.config(KEY, schema);
    await sleep(1000);
    const heap2 = heapMiB();
    const machine = collectMachineInfo({ "nats-server": writer.info?.version ?? "?" });
    for (const line of formatMachineInfo(machine)) out(line);
    out(`command: ${commandLine().node}`);
    const perConn = (x: number): string => ((x * 1024) / connections).toFixed(1);
    out(
      `${connections} SDK connections, 1 handle each: nats-server RSS ${server0.toFixed(1)} -> ` +
        `${server1.toFixed(1)} MiB (${perConn(server1 - server0)} KiB per connection + watch); ` +
        `client heap ${heap0.toFixed(1)} -> ${heap1.toFixed(1)} MiB (${perConn(heap1 - heap0)} KiB per connection)`,
    );
    out(
      `+${handles} handles per connection (shared schema): client heap ${heap2.toFixed(1)} MiB ` +
        `(${(((heap2 - heap1) * 1024 * 1024) / (connections * handles)).toFixed(0)} bytes per handle)`,
    );
    out(
      JSON.stringify({
        bench: "watcher-memory",
        connections,
        handles_per_connection: handles + 1,
        server_kib_per_connection: Number(perConn(server1 - server0)),
        client_kib_per_connection: Number(perConn(heap1 - heap0)),
        client_bytes_per_handle: Math.round(((heap2 - heap1) * 2 ** 20) / (connections * handles)),
        exposed_gc: typeof (globalThis as { gc?: unknown }).gc === "function",
        load_1m_start: machine.loadAverage[0],
      }),
    );
    await writer.close();
  } finally {
    await Promise.all(kons.map((k) => k.close().catch(() => undefined)));
    await nats.stop();
    rmSync(snapshots, { recursive: true, force: true });
  }
}

void main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`watcher-memory failed: ${String(err)}\n`);
    process.exit(1);
  },
);
