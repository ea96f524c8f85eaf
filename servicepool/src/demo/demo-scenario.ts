import { spawnSync } from "node:child_process";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { getJson, waitUntil } from "./demo-http";
import { bootstrapAndJoin, crossGroupRefused, readToken } from "./demo-trust";
import type { TrustSetup } from "./demo-trust";

/** Where the demo finds the running stack (scripts/stack.sh defaults). */
export interface DemoSetup {
  repo: string;
  configDir: string;
  group: string;
  services: { name: string; port: number }[];
  monitorPort: number;
  analyticsPort: number;
  /** The admin service and secrets: the demo walks bootstrap → group → join key first. */
  trust: TrustSetup;
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

/** Step 3: SIGKILL one service; the monitor reports node.down within the TTL. Returns the kill time. */
async function killOne(s: DemoSetup, token: string): Promise<number | undefined> {
  const monitor = `http://127.0.0.1:${s.monitorPort}`;
  if (!(await getJson(`${monitor}/healthz`))) {
    log("3. (liveness monitor not running: skipped)");
    return undefined;
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
      const n = await getJson<{ status?: string; ageMs?: number; ttlMs?: number }>(
        `${monitor}/v1/nodes/${s.group}/${node}`,
        token,
      );
      // A node killed again and again (the demo run several times) is reported once as
      // flapping instead of as a storm of downs.
      const silent = (n?.ageMs ?? 0) > (n?.ttlMs ?? 3000);
      return n?.status === "down" || (n?.status === "flapping" && silent) ? n : undefined;
    },
    15_000,
  );
  log(
    `   monitor: ${node} is ${down.status} ${((Date.now() - killed) / 1000).toFixed(1)} s after the kill`,
  );
  if (down.status === "flapping") {
    log(
      `   (it went down several times within minutes: one node.flapping instead of more node.down)`,
    );
  }
  log(`   restarting ${victim}`);
  const up = spawnSync("bash", [join(s.repo, "scripts", "stack.sh"), "up"], { encoding: "utf8" });
  if (up.status !== 0) throw new Error(`demo: restarting ${victim} failed:\n${up.stderr}`);
  await waitUntil(
    "node.up",
    async () => {
      const n = await getJson<{ status?: string; ageMs?: number }>(
        `${monitor}/v1/nodes/${s.group}/${node}`,
        token,
      );
      // A flapping node stays "flapping" until it has been stable for a while: beating is enough.
      const beating = n?.status === "flapping" && (n.ageMs ?? Infinity) < 2000;
      return n?.status === "up" || beating ? n : undefined;
    },
    15_000,
  );
  log(`   monitor: ${node} is beating again`);
  return down.status === "down" ? killed : undefined;
}

interface Incident {
  node: string;
  cause: string;
  startMs: number;
  durationMs: number | null;
  open: boolean;
}

/** Step 4: analytics recorded the kill as an incident; where to look. */
async function dashboard(s: DemoSetup, killedAt: number | undefined, token: string): Promise<void> {
  const url = `http://127.0.0.1:${s.analyticsPort}/`;
  if (!(await getJson(`${url}healthz`))) {
    log("4. (analytics not running: no dashboard yet)");
    return;
  }
  if (killedAt !== undefined) {
    const node = `service2-${s.group}`;
    const incident = await waitUntil(
      "the incident in analytics",
      async () => {
        const r = await getJson<{ incidents: Incident[] }>(
          `${url}v1/incidents?group=${s.group}&from=${killedAt}`,
          token,
        );
        return r?.incidents.find((i) => i.node === node && !i.open && i.startMs >= killedAt);
      },
      15_000,
    );
    log(
      `4. analytics: incident ${node}, cause ${incident.cause}, from ` +
        `${new Date(incident.startMs).toISOString()}, lasted ${((incident.durationMs ?? 0) / 1000).toFixed(1)} s`,
    );
  }
  log(`   Dashboard: ${url}  (fleet, uptime, incidents, config drift, heartbeat rate)`);
  log(`   sign in with this read-only API token (valid 24 h): ${token}`);
}

export async function runDemo(s: DemoSetup): Promise<void> {
  log("Konorkestra demo: admins, groups and join keys; config hot swap and liveness");
  log();
  const session = await bootstrapAndJoin(s.trust);
  const started = spawnSync("bash", [join(s.repo, "scripts", "stack.sh"), "examples"], {
    stdio: ["ignore", "inherit", "inherit"],
  });
  if (started.status !== 0) throw new Error("demo: the example services did not start");
  log(`   service1..3 joined group ${s.group} with its key`);
  log();
  const missing: string[] = [];
  for (const { name, port } of s.services) {
    if (!(await getJson(`http://127.0.0.1:${port}/healthz`))) missing.push(`${name} (:${port})`);
  }
  if (missing.length > 0)
    throw new Error(`demo: not running: ${missing.join(", ")}; run 'make up' first`);
  await hotSwapFleet(s);
  log();
  await toggleFlag(s);
  log();
  const read = await readToken(s.trust, session);
  const killedAt = await killOne(s, read);
  log();
  await dashboard(s, killedAt, read);
  log();
  await crossGroupRefused(s.trust, session);
  log();
  log(
    "Edit the files under " +
      join(s.configDir, s.group) +
      " and watch the services follow; 'make down' stops everything.",
  );
}
