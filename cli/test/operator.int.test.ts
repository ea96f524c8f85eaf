// `kon` against a real stack: NATS (TLS, auth callout), PostgreSQL and the admin service with its
// callout responder, in-process. Each command runs in-process through runCli with captured
// streams and a private config dir; tables are compared with golden text, --json with schemas,
// failures by exit code.
import { readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Kvm } from "@nats-io/kv";
import { connect } from "@nats-io/transport-node";
import { ConfigEntry } from "@konorkestra/proto";
import { sha256Hex } from "@konorkestra/sdk/internal";
import { calloutExtension } from "@konorkestra/admin";
import { getFreePort } from "@konorkestra/testkit";
import { z } from "zod";

import { AdminHarness } from "../../admin/test/helpers/admin-harness";
import { ExitCode } from "../src/exit-codes";
import { CliRunner } from "./helpers/cli-runner";

const EMAIL = "ops@example.org";
const PASSWORD = "correct horse battery";
let h: AdminHarness;
let kon: CliRunner;
let closedPort: number;

const isoTime = z.iso.datetime();
const createdSchema = z.strictObject({
  name: z.string(),
  createdAt: isoTime,
  createdBy: z.string(),
  keyId: z.string().length(8),
  joinKey: z.string().regex(/^([0-9A-Z]{4}-){8}[0-9A-Z]{4}$/),
});
const groupShowSchema = z.strictObject({
  name: z.string(),
  createdAt: isoTime,
  createdBy: z.string(),
  keys: z.array(
    z.strictObject({
      keyId: z.string(),
      createdAt: isoTime,
      createdBy: z.string(),
      expiresAt: isoTime.nullable(),
      revokedAt: isoTime.nullable(),
    }),
  ),
});
const joinSchema = z.strictObject({
  group: z.string(),
  configs: z.record(
    z.string(),
    z.strictObject({
      revision: z.number().int().positive(),
      value: z.unknown(),
      sha256: z.string().regex(/^[0-9a-f]{64}$/),
      updatedAtMs: z.number(),
      sourcePath: z.string(),
      gitCommit: z.string(),
      gitAuthor: z.string(),
      publishedBy: z.string(),
    }),
  ),
  written: z.array(z.string()).optional(),
});

beforeAll(async () => {
  h = await AdminHarness.start((nats) => ({
    extensions: [
      calloutExtension({
        issuerSeedFile: nats.credentials.calloutIssuerSeedFile,
        systemSeedFile: nats.credentials.seedFiles.system,
      }),
    ],
  }));
  await h.firstAdmin(EMAIL, PASSWORD);
  closedPort = await getFreePort();
  const closed = `http://127.0.0.1:${closedPort}`;
  kon = new CliRunner({
    KON_ADMIN_URL: h.admin.url,
    KON_SERVERS: h.nats.url,
    KON_TLS_CA: h.nats.clientOptions().tlsCa,
    // Nothing listens there: status reports these as unreachable.
    KON_ANALYTICS_URL: closed,
    KON_MONITOR_URL: closed,
    KON_LOADER_URL: closed,
  });
});
afterAll(async () => {
  kon?.cleanup();
  await h?.stop();
});

/** Writes config values into a group's bucket as the config-loader does. */
async function publish(group: string, values: Record<string, unknown>): Promise<void> {
  const nc = await connect(h.nats.clientOptions());
  try {
    const kv = await new Kvm(nc).open(`cfg_${group}`);
    for (const [key, value] of Object.entries(values)) {
      const payload = Buffer.from(JSON.stringify(value));
      const entry = ConfigEntry.create({
        payload,
        sha256: sha256Hex(payload),
        key,
        sourcePath: `${group}/${key}.yaml`,
        updatedAtMs: Date.now(),
        publishedBy: "test",
      });
      await kv.put(key, ConfigEntry.encode(entry).finish());
    }
  } finally {
    await nc.close();
  }
}

describe("usage and reachability", () => {
  test("an unknown command, a bad group name and --json with --quiet are usage errors (2)", async () => {
    expect((await kon.run(["frobnicate"])).code).toBe(ExitCode.Usage);
    const bad = await kon.run(["group", "create", "Bad Name"]);
    expect(bad.code).toBe(ExitCode.Usage);
    expect(bad.stderr).toMatch(/invalid group name "Bad Name".*\nhint: use 1-63/);
    expect((await kon.run(["--json", "-q", "group", "list"])).code).toBe(ExitCode.Usage);
    expect((await kon.run(["nodes", "--watch", "--count", "0"])).code).toBe(ExitCode.Usage);
  });

  test("an admin API nobody listens on is unreachable (5), naming where", async () => {
    const r = await kon.run(["group", "list"], {
      env: { KON_ADMIN_URL: `http://127.0.0.1:${closedPort}` },
    });
    expect(r.code).toBe(ExitCode.Unreachable);
    expect(r.stderr).toContain(`cannot reach the admin API at http://127.0.0.1:${closedPort}`);
    expect(r.stderr).toContain("ECONNREFUSED");
  });

  test("without a token the admin refuses (4) and kon says how to sign in", async () => {
    const r = await kon.run(["group", "list"]);
    expect(r.code).toBe(ExitCode.Refused);
    expect(r.stderr).toMatch(/admin API GET \/v1\/groups → 401.*\nhint: sign in with 'kon login'/);
  });
});

describe("signed in", () => {
  let joinKey: string;

  beforeAll(async () => {
    const wrong = await kon.run(["login", "--email", EMAIL, "--password-stdin"], {
      stdin: "wrong password\n",
    });
    expect(wrong.code).toBe(ExitCode.Refused);
    // Not "sign in with 'kon login'": that is what failed.
    expect(wrong.stderr).toMatch(
      /\nhint: check the e-mail and password for http:\/\/127\.0\.0\.1:\d+\n$/,
    );
    expect(wrong.stderr).not.toContain("wrong password");
    const r = await kon.run(["login", "--email", EMAIL, "--password-stdin"], {
      stdin: `${PASSWORD}\n`,
    });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`signed in to ${h.admin.url} as ${EMAIL} (context 'local'`);
    expect(r.stdout + r.stderr).not.toContain("kon1.");
  });

  test("the session is kept 0600 in a 0700 dir, apart from the contexts", () => {
    const dir = join(kon.configDir, "konorkestra");
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const file = join(dir, "credentials.json");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const cred = JSON.parse(readFileSync(file, "utf8")) as Record<string, { accessToken: string }>;
    expect(cred.local!.accessToken).toMatch(/^kon1\./);
    expect(readdirSync(dir).sort()).toEqual(["config.json", "credentials.json"]);
  });

  test("group create prints the join key once; --json has the documented shape", async () => {
    const made = createdSchema.parse(await kon.json(["group", "create", "payments"]));
    expect(made.name).toBe("payments");
    joinKey = made.joinKey;
    const human = await kon.run(["group", "create", "billing"]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(
      /^created group 'billing'\njoin key [0-9A-Z]{8} \(shown once, keep it secret\):\n {2}[0-9A-Z-]{44}\n$/,
    );
    const quiet = await kon.run(["-q", "group", "create", "search"]);
    expect(quiet.stdout).toMatch(/^[0-9A-Z-]{44}\n$/);
    const again = await kon.run(["group", "create", "payments"]);
    expect(again.code).toBe(ExitCode.Refused);
    expect(again.stderr).toMatch(/→ 409/);
  });

  test("group list: golden table (times and ids normalized)", async () => {
    const r = await kon.run(["group", "list"]);
    expect(r.code).toBe(0);
    // Same-width stand-ins, so the golden text still shows the alignment.
    const normalized = r.stdout
      .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g, "2026-01-01T00:00:00.000Z")
      .replace(/adm_[A-Za-z0-9_-]{16}/g, "adm_0000000000000000");
    expect(normalized).toBe(
      [
        "NAME      CREATED                   CREATED BY",
        "billing   2026-01-01T00:00:00.000Z  adm_0000000000000000",
        "payments  2026-01-01T00:00:00.000Z  adm_0000000000000000",
        "search    2026-01-01T00:00:00.000Z  adm_0000000000000000",
        "",
      ].join("\n"),
    );
  });

  test("group show: keys as a table and as JSON; an unknown group is not found (3)", async () => {
    const shown = groupShowSchema.parse(await kon.json(["group", "show", "payments"]));
    expect(shown.keys).toHaveLength(1);
    expect(joinKey.replace(/-/g, "").startsWith(shown.keys[0]!.keyId)).toBe(true);
    const human = await kon.run(["group", "show", "payments"]);
    expect(human.stdout).toMatch(
      /KEY ID\s+STATE\s+CREATED\s+EXPIRES\s+REVOKED\n[0-9A-Z]{8}\s+current\s/,
    );
    const missing = await kon.run(["group", "show", "nope"]);
    expect(missing.code).toBe(ExitCode.NotFound);
    expect(missing.stderr).toContain("admin API GET /v1/groups/nope → 404");
  });

  test("join reads every config of the group with the key, prints it or writes files", async () => {
    await publish("payments", { service1: { feature: true }, "service1.db": { pool: 5 } });
    const printed = await kon.run(["join", joinKey, "--group", "payments"]);
    expect(printed.stderr).not.toMatch(/kon:/);
    expect(printed.code).toBe(0);
    expect(printed.stdout).toMatch(
      /# service1 .*revision \d+[\s\S]*"feature": true[\s\S]*# service1\.db/,
    );
    const j = joinSchema.parse(await kon.json(["join", joinKey, "--group", "payments"]));
    expect(j.configs["service1.db"]!.value).toEqual({ pool: 5 });
    // Signed in, the group is found by the key's id.
    const out = join(kon.configDir, "out");
    const found = joinSchema.parse(await kon.json(["join", joinKey, "--out", out]));
    expect(found.group).toBe("payments");
    expect(readdirSync(out).sort()).toEqual(["service1.db.json", "service1.json"]);
    expect(statSync(join(out, "service1.json")).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(join(out, "service1.json"), "utf8"))).toEqual({ feature: true });
    // A symlink planted at the old predictable temp name (<file>.<pid>.tmp) is not written through.
    const victim = join(kon.configDir, "victim");
    writeFileSync(victim, "untouched");
    symlinkSync(victim, join(out, `service1.json.${process.pid}.tmp`));
    expect((await kon.run(["join", joinKey, "--out", out])).code).toBe(0);
    expect(readFileSync(victim, "utf8")).toBe("untouched");
    expect(
      readdirSync(out).filter((f) => f.endsWith(".tmp") && !f.includes(`${process.pid}`)),
    ).toEqual([]);
    // --out that is a file: usage (2), said before joining.
    const notDir = await kon.run(["join", joinKey, "--out", victim]);
    expect(notDir.code).toBe(ExitCode.Usage);
    expect(notDir.stderr).toBe(
      `kon: --out ${victim} is not a directory\nhint: name a directory (it is created when missing)\n`,
    );
  });

  test("join with another group's key, or a rotated-out and revoked key, is refused (4)", async () => {
    const other = await kon.run(["join", joinKey, "--group", "billing"]);
    expect(other.code).toBe(ExitCode.Refused);
    const rotated = await kon.json(["group", "rotate-key", "payments", "--grace", "0"]);
    const { joinKey: newKey, keyId: newId } = rotated as { joinKey: string; keyId: string };
    const oldId = joinKey.replace(/-/g, "").slice(0, 8);
    const revoked = await kon.run(["group", "revoke-key", "payments", oldId]);
    expect(revoked.code).toBe(0);
    const old = await kon.run(["join", joinKey, "--group", "payments"]);
    expect(old.code).toBe(ExitCode.Refused);
    expect(old.stderr).toContain("the join key was refused");
    const fresh = await kon.run(["-q", "join", newKey, "--group", "payments"]);
    expect(fresh.code).toBe(0);
    expect(fresh.stdout).toBe("service1\nservice1.db\n");
    expect(newId).toHaveLength(8);
  });

  test("an expired access token is refreshed and the new pair stored", async () => {
    const file = join(kon.configDir, "konorkestra", "credentials.json");
    const cred = JSON.parse(readFileSync(file, "utf8")) as Record<string, Record<string, string>>;
    const before = cred.local!.accessToken;
    cred.local!.accessExpiresAt = new Date(Date.now() - 1000).toISOString();
    writeFileSync(file, JSON.stringify(cred), { mode: 0o600 });
    expect((await kon.run(["group", "list"])).code).toBe(0);
    const after = JSON.parse(readFileSync(file, "utf8")) as typeof cred;
    expect(after.local!.accessToken).not.toBe(before);
    expect(Date.parse(after.local!.accessExpiresAt!)).toBeGreaterThan(Date.now());
  });

  test("an API token works by --token, KON_API_TOKEN and login --token-stdin", async () => {
    const session = JSON.parse(
      readFileSync(join(kon.configDir, "konorkestra", "credentials.json"), "utf8"),
    ) as Record<string, { accessToken: string }>;
    const made = await h.http("POST", "/v1/tokens", {
      token: session.local!.accessToken,
      body: { name: "ci", scopes: ["read"] },
    });
    const token = made.body.token as string;
    const other = new CliRunner({ KON_ADMIN_URL: h.admin.url });
    try {
      expect((await other.run(["-q", "--token", token, "group", "list"])).stdout).toContain(
        "payments",
      );
      expect((await other.run(["group", "list"], { env: { KON_API_TOKEN: token } })).code).toBe(0);
      // read scope only: a write is refused (403 → 4)
      const write = await other.run(["group", "create", "x1"], { env: { KON_API_TOKEN: token } });
      expect(write.code).toBe(ExitCode.Refused);
      expect(write.stderr).toContain("→ 403");
      const bad = await other.run(["login", "--token-stdin"], { stdin: "kon1.nope\n" });
      expect(bad.code).toBe(ExitCode.Refused);
      expect((await other.run(["login", "--token-stdin"], { stdin: `${token}\n` })).code).toBe(0);
      const shown = (await other.json(["context", "show"])) as { token: { origin: string } };
      expect(shown.token.origin).toBe("api-token");
      expect((await other.run(["group", "list"])).code).toBe(0);
    } finally {
      other.cleanup();
    }
  });

  test("status: admin and NATS up with versions, the rest unreachable (5)", async () => {
    const r = await kon.run(["--json", "status"]);
    expect(r.code).toBe(ExitCode.Unreachable);
    const s = z
      .strictObject({
        context: z.string(),
        components: z.array(
          z.strictObject({
            component: z.enum(["admin", "loader", "monitor", "analytics", "nats"]),
            url: z.string(),
            state: z.enum(["ok", "degraded", "unreachable"]),
            version: z.string().nullable(),
            detail: z.string(),
            health: z.unknown(),
          }),
        ),
        lag: z.record(z.string(), z.number()).nullable(),
      })
      .parse(JSON.parse(r.stdout));
    const by = Object.fromEntries(s.components.map((c) => [c.component, c]));
    expect(by.admin!.state).toBe("ok");
    expect(by.admin!.detail).toBe("postgres ok, nats ok");
    expect(by.nats!.state).toBe("ok");
    expect(by.nats!.version).toMatch(/^2\.\d+\.\d+/);
    expect(by.monitor!.state).toBe("unreachable");
    expect(r.stderr).toContain("3 of 5 components not ok");
    const alone = await kon.run(["status"], {
      env: { KON_ADMIN_URL: `http://127.0.0.1:${closedPort}` },
    });
    expect(alone.code).toBe(ExitCode.Unreachable);
  });

  test("group delete needs --yes without a terminal, then the group is gone (3)", async () => {
    const ask = await kon.run(["group", "delete", "search"]);
    expect(ask.code).toBe(ExitCode.Usage);
    expect(ask.stderr).toContain("hint: pass --yes");
    expect((await kon.run(["group", "delete", "search", "--yes"])).code).toBe(0);
    expect((await kon.run(["group", "show", "search"])).code).toBe(ExitCode.NotFound);
  });

  test("logout ends the session on the server and forgets it", async () => {
    const file = join(kon.configDir, "konorkestra", "credentials.json");
    const { refreshToken: refresh, accessToken: access } = (
      JSON.parse(readFileSync(file, "utf8")) as Record<
        string,
        { refreshToken: string; accessToken: string }
      >
    ).local!;
    expect((await h.http("GET", "/v1/groups", { token: access })).status).toBe(200);
    expect((await kon.run(["logout"])).code).toBe(0);
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({});
    const again = await h.http("POST", "/v1/auth/refresh", { body: { refreshToken: refresh } });
    expect(again.status).toBe(401);
    // The access token is revoked too (through kon_revoked, so on every service), not left to expire.
    const end = Date.now() + 2000;
    let status = 200;
    while (status !== 401 && Date.now() < end) {
      status = (await h.http("GET", "/v1/groups", { token: access })).status;
      if (status !== 401) await new Promise((r) => setTimeout(r, 50));
    }
    expect(status).toBe(401);
    expect((await kon.run(["group", "list"])).code).toBe(ExitCode.Refused);
  });

  test("on a terminal, login asks for e-mail and password (not echoed), delete for the group's name", async () => {
    const r = await kon.run(["login"], { tty: true, stdin: `${EMAIL}\r${PASSWORD}\r` });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("e-mail: ");
    expect(r.stderr).toContain("password: ");
    expect(r.stderr).not.toContain(PASSWORD);
    expect(r.stdout).toContain(`as ${EMAIL}`);
    expect((await kon.run(["-q", "group", "create", "temp"])).code).toBe(0);
    const wrong = await kon.run(["group", "delete", "temp"], { tty: true, stdin: "tmep\r" });
    expect(wrong.code).toBe(ExitCode.Failed);
    expect(wrong.stderr).toContain("not confirmed; nothing deleted");
    const right = await kon.run(["group", "delete", "temp"], { tty: true, stdin: "temp\r" });
    expect(right.code).toBe(0);
    expect((await kon.run(["group", "show", "temp"])).code).toBe(ExitCode.NotFound);
  });

  test("a session whose refresh token expired is dropped, with what to do (4)", async () => {
    const login = await kon.run(["login", "--email", EMAIL, "--password-stdin"], {
      stdin: `${PASSWORD}\n`,
    });
    expect(login.code).toBe(0);
    const file = join(kon.configDir, "konorkestra", "credentials.json");
    const cred = JSON.parse(readFileSync(file, "utf8")) as Record<string, Record<string, string>>;
    const past = new Date(Date.now() - 1000).toISOString();
    cred.local = { ...cred.local!, accessExpiresAt: past, refreshExpiresAt: past };
    writeFileSync(file, JSON.stringify(cred), { mode: 0o600 });
    const r = await kon.run(["group", "list"]);
    expect(r.code).toBe(ExitCode.Refused);
    expect(r.stderr).toContain("the session of context 'local' has expired");
    expect(r.stderr).toContain("hint: sign in again with 'kon login'");
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({});
  });
});

test("join against a NATS nobody listens on is unreachable (5)", async () => {
  const r = await kon.run(["join", "AAAA-BBBB-CCCC", "--group", "payments"], {
    env: { KON_SERVERS: `nats://127.0.0.1:${closedPort}` },
  });
  expect(r.code).toBe(ExitCode.Unreachable);
  expect(r.stderr).toContain(`cannot reach NATS`);
  expect(r.stderr).toContain(`NATS at nats://127.0.0.1:${closedPort}`);
});
