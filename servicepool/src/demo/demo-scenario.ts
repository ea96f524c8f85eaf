import { spawnSync } from "node:child_process";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { getJson, waitUntil } from "./demo-http";

/** Where the demo finds the running stack (scripts/stack.sh defaults). */
export interface DemoSetup {
  repo: string;
  configDir: string;
  group: string;
  services: { name: string; port: number }[];
  monitorPort: number;
  analyticsPort: number;
}

interface Health {
  banner?: string;
  fleetRevision?: number;
  configRevision?: number;
}

const log = (msg = ""): void => console.log(msg);

function saveYaml(path: string, value: unknown): void {
  const tmp = `${path}.demo-tmp`;
  writeFileSync(tmp, stringify(value));
  renameSync(tmp, path); // an editor's atomic save
}

/** Step 1: one edit of `fleet.yaml` reaches all three services; prints how fast. */
async function hotSwapFleet(s: DemoSetup): Promise<void> {
  const file = join(s.configDir, s.group, "fleet.yaml");
  const doc = parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  const banner = `changed by make demo at ${new Date().toISOString().slice(11, 19)}`;
  log(`1. Edit ${file}: banner -> "${banner}"`);
  const saved = performance.now();
  saveYaml(file, { ...doc, banner });
  const rows = await Promise.all(
    s.services.map(async ({ name, port }) => {
      const h = await waitUntil(
        `${name} banner`,
        async () => {
          const got = await getJson<Health>(`http://127.0.0.1:${port}/healthz`);
          return got?.banner === banner ? got : undefined;
        },
        10_000,
      );
      return { name, ms: performance.now() - saved, revision: h.fleetRevision };
    }),
  );
  for (const r of rows) {
    log(
      `   ${r.name.padEnd(9)} applied fleet revision ${r.revision} after ${r.ms.toFixed(0)} ms (file save -> applied)`,
    );
  }
}

/** Step 2: a feature flag changes real behaviour of service1 without a restart. */
async function toggleFlag(s: DemoSetup): Promise<void> {
  const file = join(s.configDir, s.group, "service1.yaml");
  const doc = parse(readFileSync(file, "utf8")) as { features?: Record<string, boolean> };
  const shout = !doc.features?.shout;
  const port = s.services.find((x) => x.name === "service1")?.port ?? 7101;
  const before = await getJson<{ message: string }>(`http://127.0.0.1:${port}/v1/hello`);
  log(
    `2. service1 GET /v1/hello -> ${JSON.stringify(before?.message)}; set features.shout = ${shout}`,
  );
  saveYaml(file, { ...doc, features: { ...doc.features, shout } });
  const after = await waitUntil(
    "service1 greeting",
    async () => {
      const got = await getJson<{ message: string }>(`http://127.0.0.1:${port}/v1/hello`);
      return got && got.message !== before?.message ? got : undefined;
    },
    10_000,
  );
  log(`   service1 GET /v1/hello -> ${JSON.stringify(after.message)} (same process, no restart)`);
}

/** Step 3: SIGKILL one service; the monitor reports node.down within the TTL. */
async function killOne(s: DemoSetup): Promise<void> {
  const monitor = `http://127.0.0.1:${s.monitorPort}`;
  if (!(await getJson(`${monitor}/healthz`))) {
    log("3. (liveness monitor not running: skipped)");
    return;
  }
  const victim = "service2";
  const node = `${victim}-${s.group}`;
  const pid = Number(readFileSync(join(s.repo, ".stack", "run", `${victim}.pid`), "utf8").trim());
  log(`3. kill -9 ${victim} (pid ${pid}, node ${node}); heartbeats every 1 s, 3 misses allowed`);
  const killed = Date.now();
  process.kill(pid, "SIGKILL");
  const down = await waitUntil(
    "node.down",
    async () => {
      const n = await getJson<{ status?: string }>(`${monitor}/v1/nodes/${s.group}/${node}`);
      return n?.status === "down" ? n : undefined;
    },
    15_000,
  );
  log(
    `   monitor: ${node} is ${down.status} ${((Date.now() - killed) / 1000).toFixed(1)} s after the kill`,
  );
  log(`   restarting ${victim}`);
  const up = spawnSync("bash", [join(s.repo, "scripts", "stack.sh"), "up"], { encoding: "utf8" });
  if (up.status !== 0) throw new Error(`demo: restarting ${victim} failed:\n${up.stderr}`);
  await waitUntil(
    "node.up",
    async () => {
      const n = await getJson<{ status?: string }>(`${monitor}/v1/nodes/${s.group}/${node}`);
      return n?.status === "up" ? n : undefined;
    },
    15_000,
  );
  log(`   monitor: ${node} is up again`);
}

/** Step 4: where to look. */
async function dashboard(s: DemoSetup): Promise<void> {
  const url = `http://127.0.0.1:${s.analyticsPort}/`;
  if (!(await getJson(`${url}healthz`))) {
    log("4. (analytics not running: no dashboard yet)");
    return;
  }
  log(
    `4. Dashboard: ${url}  (fleet, uptime, incidents - the killed service is one - and config drift)`,
  );
}

export async function runDemo(s: DemoSetup): Promise<void> {
  log("Konorkestra demo: config hot swap and liveness on the local stack");
  log();
  await hotSwapFleet(s);
  log();
  await toggleFlag(s);
  log();
  await killOne(s);
  log();
  await dashboard(s);
  log();
  log(
    "Edit the files under " +
      join(s.configDir, s.group) +
      " and watch the services follow; 'make down' stops everything.",
  );
}
