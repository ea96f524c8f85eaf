// The init service of docker-compose.yml (scripts/pack-stack-init.sh), run against temporary
// directories in place of its mounts: every secret file a service's environment names is there,
// for that service alone. Uses the admin's build output (its key maker), so run after a build.
import { execFileSync } from "node:child_process";
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
import { join } from "node:path";
import { ROOT, loadCompose, mountOf, mounts } from "./pack-compose-model";
import type { Service } from "./pack-compose-model";

const compose = loadCompose();
const ours = Object.entries(compose.services).filter(([, s]) =>
  s.image?.startsWith("konorkestra:"),
);

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
