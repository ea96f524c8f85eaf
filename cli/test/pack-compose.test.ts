// docker-compose.yml and the Dockerfile, checked as data (no Docker engine runs here): every
// service's image, command, ports, volumes, environment and start order, and the image's stages.
// The commands resolve through the image's entry point to files `npm run build` makes, so run it
// after a build (make test builds first).
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import {
  ROOT,
  containerPath,
  dependsOn,
  dockerStages,
  findCycle,
  isOneShot,
  loadCompose,
  mountOf,
  mounts,
  stackShEnv,
  withDefaults,
} from "./pack-compose-model";
import type { Compose } from "./pack-compose-model";

const ENTRYPOINT = join(ROOT, "scripts", "pack-entrypoint.sh");
const compose: Compose = loadCompose();
const services = Object.entries(compose.services);
const ours = services.filter(([, s]) => s.image?.startsWith("konorkestra:"));
const longRunning = services.filter(([, s]) => !isOneShot(s));

/** The image's entry point, dry run against this checkout: the file it would start. */
function entryPointOf(command: string, env: Record<string, string> = {}): string[] {
  const out = execFileSync("sh", [ENTRYPOINT, command], {
    env: { PATH: process.env.PATH, KON_APP_DIR: ROOT, KON_ENTRYPOINT_DRY_RUN: "1", ...env },
    encoding: "utf8",
  });
  return out.trim().split("\n");
}

/** stack.sh's service names → compose's. */
const STACK_SH_NAMES: Record<string, string[]> = {
  admin: ["admin"],
  "config-loader": ["config-loader"],
  heartbeat: ["monitor"],
  analytics: ["analytics"],
  "service*": ["service1", "service2", "service3"],
};

const buildRefs = (
  JSON.parse(readFileSync(join(ROOT, "tsconfig.build.json"), "utf8")) as {
    references: { path: string }[];
  }
).references.map((r) => r.path);

beforeAll(() => {
  // The entry points and the init script's key maker are build output.
  if (!existsSync(join(ROOT, "admin", "dist", "main.js"))) {
    throw new Error(
      "pack-compose.test.ts checks build output: run `npm run build` first (make test does)",
    );
  }
});

describe("docker-compose.yml", () => {
  it("gives every service an image; ours are one image built from the Dockerfile", () => {
    for (const [name, s] of services)
      expect([name, Boolean(s.image ?? s.build)]).toEqual([name, true]);
    expect(ours.map(([n]) => n).sort()).toEqual(
      [
        "admin",
        "analytics",
        "config-loader",
        "init",
        "monitor",
        "service1",
        "service2",
        "service3",
      ].sort(),
    );
    expect(new Set(ours.map(([, s]) => s.image)).size).toBe(1);
    for (const [, s] of ours) {
      expect(s.build).toEqual({ context: ".", dockerfile: "Dockerfile" });
    }
  });

  it("starts each of our services from an entry point the build made", () => {
    for (const [name, s] of ours) {
      const [command, ...rest] = s.command ?? [];
      expect([name, command]).toEqual([name, expect.any(String)]);
      if (command === "init") {
        expect(existsSync(join(ROOT, "scripts", "pack-stack-init.sh"))).toBe(true);
        continue;
      }
      const entry = relative(ROOT, entryPointOf(command!)[0]!);
      expect([name, existsSync(join(ROOT, entry)), rest]).toEqual([name, true, []]);
      // ... compiled from a source of a workspace the build compiles (dist/ mirrors src/).
      const [ws, dist, ...file] = entry.split("/");
      const source = join(ws!, "src", file.join("/").replace(/\.js$/, ".ts"));
      expect([name, dist, existsSync(join(ROOT, source))]).toEqual([name, "dist", true]);
      expect(buildRefs).toContain(`./${ws}`);
    }
  });

  it("publishes ports on loopback only, the same number inside (the Host allow-list)", () => {
    for (const [name, s] of services) {
      for (const p of s.ports ?? []) {
        if (typeof p !== "string") {
          expect([name, p.host_ip]).toEqual([name, "127.0.0.1"]);
          continue;
        }
        expect([name, withDefaults(p)]).toEqual([
          name,
          expect.stringMatching(/^127\.0\.0\.1:\d+:\d+$/),
        ]);
        if (ours.some(([n]) => n === name)) {
          const [, host, inside] = withDefaults(p).split(":");
          expect([name, host]).toEqual([name, inside]);
          // Listening on the container's loopback would make the published port a dead end.
          const hostVar = Object.entries(s.environment ?? {}).find(([k]) =>
            /^KON_[A-Z]+_HOST$/.test(k),
          );
          expect([name, hostVar?.[1]]).toEqual([name, "0.0.0.0"]);
        }
      }
    }
  });

  it("mounts declared volumes and host paths that exist or live under .stack, never the CA key", () => {
    const declared = Object.keys(compose.volumes ?? {});
    for (const [name, s] of services) {
      for (const m of mounts(s)) {
        if (m.named) {
          expect([name, m.source, declared.includes(m.source)]).toEqual([name, m.source, true]);
          continue;
        }
        const src = relative(ROOT, join(ROOT, m.source));
        const ok = src.startsWith(".stack/") || existsSync(join(ROOT, src));
        expect([name, src, ok]).toEqual([name, src, true]);
        expect([name, src]).not.toEqual([name, ".stack/tls"]);
        expect(src).not.toMatch(/ca\.key$/);
        // The host's secrets folder reaches the init service only; the others get their own copy.
        if (src === ".stack/secrets") expect([name, m.readOnly]).toEqual(["init", true]);
      }
    }
  });

  it("gives each service the variables scripts/stack.sh gives it (a secret as VAR_FILE)", () => {
    const local = stackShEnv();
    expect(Object.keys(local).sort()).toEqual(Object.keys(STACK_SH_NAMES).sort());
    for (const [label, vars] of Object.entries(local)) {
      for (const name of STACK_SH_NAMES[label] ?? []) {
        const env = compose.services[name]?.environment ?? {};
        const missing = vars.filter((v) => !(v in env) && !(`${v}_FILE` in env));
        expect([name, missing]).toEqual([name, []]);
      }
    }
  });

  it("points every path in the environment into a mount (writable where the service writes)", () => {
    const writes = ["KON_SNAPSHOT_DIR", "KON_CONFIG_DIR", "KON_ADMIN_BOOTSTRAP_FILE"];
    for (const [name, s] of ours) {
      for (const [key, value] of Object.entries(s.environment ?? {})) {
        if (!value.startsWith("/")) continue;
        const m = mountOf(s, containerPath(value));
        expect([name, key, m?.target !== undefined]).toEqual([name, key, true]);
        if (writes.includes(key)) expect([name, key, m?.readOnly]).toEqual([name, key, false]);
      }
    }
  });

  it("starts services after the servers they need, without cycles", () => {
    expect(findCycle(compose)).toBeUndefined();
    const initVolumes = mounts(compose.services.init!)
      .filter((m) => m.named)
      .map((m) => m.source);
    for (const [name, s] of services) {
      const deps = dependsOn(s);
      for (const [dep, condition] of Object.entries(deps)) {
        const d = compose.services[dep];
        expect([name, dep, d !== undefined]).toEqual([name, dep, true]);
        const want = isOneShot(d!) ? "service_completed_successfully" : "service_healthy";
        expect([name, dep, condition]).toEqual([name, dep, want]);
      }
      const env = Object.keys(s.environment ?? {});
      const needs = new Set<string>();
      if (env.includes("KON_SERVERS")) needs.add("nats");
      if (env.some((k) => k.startsWith("KON_PG_URL"))) needs.add("postgres");
      if (env.some((k) => k.startsWith("KON_REDIS_URL"))) needs.add("redis");
      // Token verifiers and members: the admin's revocation list and join-key checks.
      if (env.some((k) => /^KON_(AUTH_PUBLIC_KEY_FILE|JOIN_KEY)/.test(k))) needs.add("admin");
      if (name !== "init" && mounts(s).some((m) => initVolumes.includes(m.source)))
        needs.add("init");
      expect([name, [...needs].filter((n) => !(n in deps))]).toEqual([name, []]);
    }
  });

  it("checks the health of every long-running service; a running one waits for init", () => {
    for (const [name, s] of longRunning) {
      expect([name, (s.healthcheck?.test ?? []).length > 1]).toEqual([name, true]);
    }
    // `compose up --wait` accepts init's exit only when a service it starts depends on it so.
    const adopters = longRunning.filter(
      ([, s]) => !s.profiles && dependsOn(s).init === "service_completed_successfully",
    );
    expect(adopters.length).toBeGreaterThan(0);
  });
});

describe("Dockerfile", () => {
  const stages = dockerStages();
  const all = (stage: string): string => (stages.get(stage) ?? []).join("\n");

  it("builds with npm ci + npm run build, and runs node:20-slim with production modules as non-root", () => {
    expect(readFileSync(join(ROOT, "Dockerfile"), "utf8")).toMatch(
      /^ARG NODE_IMAGE=node:20-slim$/m,
    );
    expect(all("build")).toMatch(/RUN npm ci\b/);
    expect(all("build")).toMatch(/RUN npm run build\b/);
    expect(all("prod-deps")).toMatch(/RUN npm ci --omit=dev\b/);
    const runtime = all("runtime");
    expect(runtime).toMatch(/^FROM \$\{NODE_IMAGE\} AS runtime$/m);
    const user = /^USER (\S+)$/m.exec(runtime)?.[1];
    expect(user).toBeDefined();
    expect(["root", "0"]).not.toContain(user);
    expect(runtime).toMatch(/^ENTRYPOINT \["\/app\/scripts\/pack-entrypoint\.sh"\]$/m);
    expect(runtime).toMatch(/^COPY .*scripts\/pack-entrypoint\.sh .*scripts\/pack-stack-init\.sh/m);
  });

  it("copies what the build made, including every service's entry point", () => {
    const copied = [...all("runtime").matchAll(/^COPY --from=build \/src\/(\S+) /gm)].map(
      (m) => m[1]!,
    );
    for (const path of copied) expect([path, existsSync(join(ROOT, path))]).toEqual([path, true]);
    for (const [name, s] of ours) {
      if (s.command?.[0] === "init") continue;
      const entry = relative(ROOT, entryPointOf(s.command![0]!)[0]!);
      expect([name, copied.some((p) => entry.startsWith(p + "/"))]).toEqual([name, true]);
    }
  });

  it("copies every workspace's manifest before npm ci (the lock file names them all)", () => {
    const { workspaces } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
      workspaces: string[];
    };
    const manifests = all("manifests");
    for (const ws of workspaces) {
      expect([ws, manifests.includes(`COPY ${ws}/package.json ${ws}/`)]).toEqual([ws, true]);
    }
  });

  it("keeps .stack, node_modules and build output out of the build context", () => {
    const ignored = readFileSync(join(ROOT, ".dockerignore"), "utf8").split("\n");
    for (const p of [".stack", "**/node_modules", "**/dist", "**/*.tsbuildinfo"])
      expect(ignored).toContain(p);
  });
});

describe("the image's entry point", () => {
  it("reads VAR_FILE into VAR and refuses an unreadable one", () => {
    const dir = mkdtempSync(join(tmpdir(), "kon-entry-"));
    try {
      writeFileSync(join(dir, "url"), "postgres://x");
      expect(entryPointOf("analytics", { KON_PG_URL_FILE: join(dir, "url") })[1]).toBe(
        "from files: KON_PG_URL",
      );
      const r = spawnSync("sh", [ENTRYPOINT, "analytics"], {
        env: { PATH: process.env.PATH, KON_APP_DIR: ROOT, KON_PG_URL_FILE: join(dir, "missing") },
        encoding: "utf8",
      });
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(`KON_PG_URL_FILE: cannot read ${join(dir, "missing")}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses an unknown service by name", () => {
    const r = spawnSync("sh", [ENTRYPOINT, "loader"], { encoding: "utf8" });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("unknown service 'loader'");
  });
});
