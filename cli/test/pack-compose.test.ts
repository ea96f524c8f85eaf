// docker-compose.yml and the Dockerfile, checked as data (no Docker engine runs here): every
// service's image, command, ports, volumes, environment and start order, and the image's stages.
// The commands resolve through the image's entry point to files `npm run build` makes, so run it
// after a build (make test builds first).
import { execFileSync, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
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
import type { Compose, Service } from "./pack-compose-model";

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
      const [entry] = entryPointOf(command!);
      expect([name, existsSync(entry!), rest]).toEqual([name, true, []]);
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

// The init service chowns to the services' uid, which needs root (as in its container).
const asRoot = process.getuid?.() === 0 ? describe : describe.skip;

asRoot("the init service (scripts/pack-stack-init.sh)", () => {
  const init: Service = compose.services.init!;
  let dir: string;
  /** init's mounts (container paths) → the test's directories, passed through KON_INIT_*. */
  const paths = () => ({
    host: join(dir, "host"),
    out: join(dir, "out"),
    state: join(dir, "state"),
    config: join(dir, "config"),
  });
  const MOUNTED_AT = {
    host: "/host-secrets",
    out: "/run/kon-init",
    state: "/var/lib/kon-init",
    config: "/config",
  } as const;
  function runInit(): void {
    const p = paths();
    execFileSync("sh", [join(ROOT, "scripts", "pack-stack-init.sh")], {
      env: {
        PATH: process.env.PATH,
        KON_APP_DIR: ROOT,
        KON_INIT_HOST_SECRETS: p.host,
        KON_INIT_OUT: p.out,
        KON_INIT_STATE: p.state,
        KON_INIT_CONFIG: p.config,
      },
      stdio: "pipe",
    });
  }
  /** Where a file a service reads from an init-written volume lands in the test's directories. */
  function initSide(s: Service, path: string): string | undefined {
    const m = mountOf(s, path);
    const atInit = mounts(init).find((i) => m?.named && i.source === m.source);
    if (!m || !atInit) return undefined;
    const inInit = atInit.target + path.slice(m.target.length);
    const which = (Object.keys(MOUNTED_AT) as (keyof typeof MOUNTED_AT)[]).find((k) =>
      inInit.startsWith(MOUNTED_AT[k] + "/"),
    );
    return which && paths()[which] + inInit.slice(MOUNTED_AT[which].length);
  }

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "kon-init-"));
    for (const d of Object.values(paths())) mkdirSync(d);
    const host = paths().host;
    // What `make up` provisions: the services' nkeys, Redis password, webhook secret, a join key.
    execFileSync("node", [
      join(ROOT, "admin", "dist", "nats-auth", "provision-main.js"),
      host,
      join(dir, "accounts.conf"),
    ]);
    const more = {
      "redis.pw": "r3dis",
      "loader-webhook.secret": "hook",
      "group-demo.joinkey": "AX32",
    };
    for (const [f, v] of Object.entries(more)) {
      writeFileSync(join(host, f), v, { mode: 0o600 });
    }
    runInit();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("hands every file a service's environment names to that service alone, 0400 as uid 10001", () => {
    const checked: string[] = [];
    for (const [name, s] of ours) {
      for (const [key, value] of Object.entries(s.environment ?? {})) {
        const file = value.startsWith("/") ? initSide(s, value) : undefined;
        if (!file || key === "KON_CONFIG_DIR") continue;
        checked.push(`${name} ${key}`);
        const st = statSync(file, { throwIfNoEntry: false });
        expect([name, key, st?.uid, (st?.mode ?? 0) & 0o777]).toEqual([name, key, 10001, 0o400]);
      }
    }
    expect(checked).toEqual(
      expect.arrayContaining([
        "admin KON_PG_URL_FILE",
        "admin KON_ADMIN_SIGNING_KEY_FILE",
        "admin KON_CALLOUT_ISSUER_SEED_FILE",
        "config-loader KON_LOADER_WEBHOOK_SECRET_FILE",
        "monitor KON_REDIS_URL_FILE",
        "monitor KON_AUTH_PUBLIC_KEY_FILE",
        "analytics KON_NKEY_SEED_FILE",
        "service1 KON_JOIN_KEY_FILE",
      ]),
    );
    const url = readFileSync(join(paths().out, "analytics", "pg.url"), "utf8");
    expect(url).toMatch(
      /^postgres:\/\/kon_analytics:[A-Za-z0-9_-]{32}@postgres:5432\/konorkestra$/,
    );
  });

  it("gives the monitor and analytics only the admin key's public half", () => {
    const out = paths().out;
    for (const svc of ["monitor", "analytics", "config-loader"]) {
      expect(existsSync(join(out, svc, "admin-signing-key.pem"))).toBe(false);
    }
    expect(readFileSync(join(out, "monitor", "admin-signing-key.pem.pub"), "utf8")).toBe(
      readFileSync(join(out, "admin", "admin-signing-key.pem.pub"), "utf8"),
    );
  });

  it("seeds the config folder, and keeps keys and passwords on a second run", () => {
    expect(existsSync(join(paths().config, "demo"))).toBe(true);
    const state = paths().state;
    const before = ["admin-signing-key.pem", "pg-admin.pw"].map((f) =>
      readFileSync(join(state, f), "utf8"),
    );
    runInit();
    const after = ["admin-signing-key.pem", "pg-admin.pw"].map((f) =>
      readFileSync(join(state, f), "utf8"),
    );
    expect(after).toEqual(before);
  });
});
