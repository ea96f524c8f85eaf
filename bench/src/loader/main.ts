// Loader benchmark (issue 11 targets): a 900-file, ~5 MB group reconciled with no change (CPU),
// 100 files edited at once (save → KV), and a 100,000-key 1 MiB YAML file (save → refusal, and
// the delay it causes to another group's edit). Each figure is printed beside a peer or floor
// measured in the same run. Usage: npm run bench:loader
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { Kvm } from "@nats-io/kv";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { createConfigLoader } from "@konorkestra/config-loader";
import type { ConfigLoader } from "@konorkestra/config-loader";
import { ConfigEntry, decodeMessage } from "@konorkestra/proto";
import type { Logger } from "@konorkestra/sdk";
import { wireNames } from "@konorkestra/sdk/internal";
import { startNats } from "@konorkestra/testkit";
import { CleanupStack } from "../cleanup-stack";
import { collectMachineInfo, commandLine, formatMachineInfo } from "../machine-info";
import { manyKeysYaml, readGroup, serviceYaml, writeGroup } from "./loader-fixtures";

const FILES = 900;
const EDITS = 100;
const names = wireNames("kon");
const quiet: Logger = { info: () => undefined, warn: () => undefined, error: console.error };

/** Figures for the closing JSON line. */
const figures: Record<string, number | string> = {};

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (x: number): string => `${x.toFixed(0)} ms`;
const sec = (x: number): string => `${x.toFixed(3)} s`;

/** CPU seconds (user + system) of this process spent in `fn`. */
async function cpuOf(fn: () => Promise<unknown>): Promise<number> {
  const start = process.cpuUsage();
  await fn();
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1e6;
}

/** Resolves when every key in `keys` of `group` holds a value whose `version` is `version`. */
async function seen(
  nc: NatsConnection,
  group: string,
  keys: string[],
  version: number,
): Promise<() => Promise<void>> {
  const kv = await new Kvm(nc).open(names.configBucket(group));
  const want = new Set(keys);
  const watch = await kv.watch({ include: "updates" });
  const done = (async () => {
    for await (const e of watch) {
      if (e.operation !== "PUT" || !want.has(e.key)) continue;
      const v = JSON.parse(Buffer.from(decodeMessage(ConfigEntry, e.value).payload).toString()) as {
        version?: number;
      };
      if (v.version === version) want.delete(e.key);
      if (want.size === 0) break;
    }
  })();
  return async () => {
    await done;
    watch.stop();
  };
}

async function editAtOnce(
  nc: NatsConnection,
  root: string,
  group: string,
  n: number,
  version: number,
): Promise<number> {
  const keys = Array.from({ length: n }, (_, i) => `svc-${i}`);
  const wait = await seen(nc, group, keys, version);
  const t0 = performance.now();
  await Promise.all(
    keys.map((k, i) => writeFile(join(root, group, `${k}.yaml`), serviceYaml(i, version))),
  );
  await wait();
  return performance.now() - t0;
}

async function main(): Promise<void> {
  const cleanup = new CleanupStack();
  cleanup.runOnSignals();
  try {
    const nats = await startNats();
    cleanup.push(() => nats.stop());
    const nc = await connect({ ...nats.clientOptions(), name: "bench-loader" });
    cleanup.push(() => nc.close());
    const root = await mkdtemp(join(tmpdir(), "kon-bench-loader-"));
    cleanup.push(() => rm(root, { recursive: true, force: true }));
    for (const line of formatMachineInfo(
      collectMachineInfo({ "nats-server": nc.info?.version ?? "?" }),
    ))
      console.log(line);
    const cmd = commandLine();
    console.log(`command: ${cmd.npm ?? cmd.node}`);
    const bytes = await writeGroup(root, "big", FILES);
    await writeGroup(root, "other", 1);
    const loader: ConfigLoader = createConfigLoader(
      {
        configDir: root,
        ...nats.clientOptions(),
        port: 0,
        resyncMs: 0,
        git: false,
        loaderId: "bench",
      },
      quiet,
    );
    cleanup.push(() => loader.stop());
    await loader.start();
    await loader.whenReady();
    console.log(`\ngroup: ${FILES} YAML files, ${(bytes / 1e6).toFixed(2)} MB`);
    await noChange(loader, root);
    await hundredEdits(loader, nc, root);
    await hostileYaml(nc, root);
    console.log(JSON.stringify({ bench: "loader", files: FILES, group_bytes: bytes, ...figures }));
  } finally {
    await cleanup.run();
  }
}

/** Target: a reconcile with no change costs <= 0.3 s CPU. */
async function noChange(loader: ConfigLoader, root: string): Promise<void> {
  const cached: number[] = [];
  const full: number[] = [];
  const floor: number[] = [];
  await loader.reconcile("full"); // warm
  for (let r = 0; r < 5; r++) {
    cached.push(await cpuOf(() => loader.reconcile("full")));
    full.push(
      await cpuOf(async () => {
        loader.forgetCaches();
        await loader.reconcile("full");
      }),
    );
    floor.push(
      await cpuOf(async () => {
        for (const f of await readdir(join(root, "big"))) await stat(join(root, "big", f));
      }),
    );
  }
  const reread = await cpuOf(() => readGroup(root, "big", FILES));
  Object.assign(figures, {
    nochange_cpu_s: median(cached),
    full_reread_cpu_s: median(full),
    stat_floor_cpu_s: median(floor),
  });
  console.log("\n1. reconcile with no change (CPU of the loader process, median of 5)");
  console.log(`   cached (stat + stream check):  ${sec(median(cached))}   target <= 0.300 s`);
  console.log(
    `   full re-read (safety net):     ${sec(median(full))}   = the previous behaviour on every pass; ratio cached/full ${(median(cached) / median(full)).toFixed(3)}`,
  );
  console.log(
    `   floor: readdir + stat of ${FILES} files ${sec(median(floor))} (cached/floor ${(median(cached) / median(floor)).toFixed(1)}x); reading all bytes alone ${sec(reread)}`,
  );
}

/** Target: 100 files edited at once reach KV in <= 1 s. */
async function hundredEdits(loader: ConfigLoader, nc: NatsConnection, root: string): Promise<void> {
  const cached: number[] = [];
  const full: number[] = [];
  let version = 1;
  for (let r = 0; r < 5; r++) {
    cached.push(await editAtOnce(nc, root, "big", EDITS, ++version));
    loader.forgetCaches();
    full.push(await editAtOnce(nc, root, "big", EDITS, ++version));
  }
  Object.assign(figures, {
    edit100_p50_ms: median(cached),
    edit100_max_ms: Math.max(...cached),
    edit100_full_p50_ms: median(full),
  });
  console.log(
    `\n2. ${EDITS} files edited at once → all ${EDITS} new values in KV (wall clock, 5 rounds; debounce 50 ms)`,
  );
  console.log(
    `   re-parse only what changed:  median ${ms(median(cached))}, max ${ms(Math.max(...cached))}   target <= 1000 ms`,
  );
  console.log(
    `   peer, whole group re-parsed: median ${ms(median(full))}, max ${ms(Math.max(...full))}   ratio ${(median(cached) / median(full)).toFixed(2)}`,
  );
}

/** Target: a 100k-key 1 MiB YAML file is parsed or refused in <= 1 s without delaying other groups. */
async function hostileYaml(nc: NatsConnection, root: string): Promise<void> {
  const { text, keys } = manyKeysYaml(1024 * 1024);
  const json = JSON.stringify(
    Object.fromEntries(Array.from({ length: keys }, (_, i) => [`k${i}`, (i + 1) % 10])),
  );
  const t = performance.now();
  JSON.parse(json);
  const jsonFloor = performance.now() - t;
  const alone: number[] = [];
  const delayed: number[] = [];
  const refused: number[] = [];
  let version = 100;
  for (let r = 0; r < 5; r++) alone.push(await editAtOnce(nc, root, "other", 1, ++version));
  for (let r = 0; r < 5; r++) {
    const sub = nc.subscribe(names.eventSubject(`hostile${r}`, "config.rejected"), { max: 1 });
    const got = (async () => {
      for await (const _ of sub) return performance.now();
      return NaN;
    })();
    const t0 = performance.now();
    const edit = editAtOnce(nc, root, "other", 1, ++version);
    await mkdirWrite(join(root, `hostile${r}`), "big.yaml", text);
    delayed.push(await edit);
    refused.push((await got) - t0);
  }
  Object.assign(figures, {
    yaml100k_refused_p50_ms: median(refused),
    yaml100k_refused_max_ms: Math.max(...refused),
    json_floor_ms: jsonFloor,
    other_group_edit_p50_ms: median(delayed),
    other_group_edit_alone_p50_ms: median(alone),
  });
  console.log(
    `\n3. ${keys.toLocaleString("en")}-key YAML file of ${(Buffer.byteLength(text) / 1048576).toFixed(2)} MiB (5 rounds, a new group each)`,
  );
  console.log(
    `   save → config.rejected: median ${ms(median(refused))}, max ${ms(Math.max(...refused))}   target <= 1000 ms (floor: JSON.parse of the same keys as JSON ${ms(jsonFloor)})`,
  );
  console.log(
    `   another group's edit, saved at the same moment: median ${ms(median(delayed))}, max ${ms(Math.max(...delayed))}; alone ${ms(median(alone))}`,
  );
}

async function mkdirWrite(dir: string, file: string, text: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, file), text);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
