// `kon get|put|watch|history|diff|rollback|activate` against the real publishing path: the admin
// service (config API over a git folder, auth callout) and a config-loader watching the same
// folder, on NATS and PostgreSQL. Values are checked before they are sent; tables are golden
// (volatile columns normalized); --json is checked by schema; failures by exit code.
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createConfigLoader } from "@konorkestra/config-loader";
import type { ConfigLoader } from "@konorkestra/config-loader";
import { calloutExtension } from "@konorkestra/admin";
import { silentLogger } from "@konorkestra/sdk";
import { z } from "zod";

import { AdminHarness } from "../../admin/test/helpers/admin-harness";
import { ExitCode } from "../src/exit-codes";
import { CliRunner } from "./helpers/cli-runner";

let h: AdminHarness;
let loader: ConfigLoader;
let root: string;
let kon: CliRunner;
let joinKey: string;

const writeSchema = z.strictObject({
  group: z.string(),
  commit: z.string().nullable(),
  change_id: z.string(),
  results: z.array(
    z.looseObject({
      module: z.string(),
      status: z.enum(["created", "updated", "skipped", "unchanged", "pending"]),
      sha256: z.string(),
      revision: z.number().optional(),
      commit: z.string().optional(),
    }),
  ),
});
const getSchema = z.looseObject({
  group: z.string(),
  module: z.string(),
  configs: z.unknown(),
  revision: z.number().int().positive(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  commit: z.string(),
  author: z.string(),
  updated_at: z.string().nullable(),
  activate_at: z.string().nullable(),
});
const watchLine = z.strictObject({
  group: z.string(),
  key: z.string(),
  revision: z.number(),
  operation: z.enum(["put", "delete"]),
  value: z.unknown(),
  sha256: z.string().nullable(),
  atMs: z.number(),
});

beforeAll(async () => {
  root = realpathSync(mkdtempSync(join(tmpdir(), "kon-cli-cfg-")));
  h = await AdminHarness.start((nats) => ({
    configDir: root,
    configWaitMs: 8000,
    compactionIntervalMs: 0,
    extensions: [
      calloutExtension({
        issuerSeedFile: nats.credentials.calloutIssuerSeedFile,
        systemSeedFile: nats.credentials.seedFiles.system,
      }),
    ],
  }));
  await h.firstAdmin("ops@example.org", "correct horse battery");
  loader = createConfigLoader(
    {
      configDir: root,
      ...h.nats.serviceOptions("config-loader"),
      port: 0,
      debounceMs: 30,
      debounceMaxMs: 300,
      resyncMs: 0,
      loaderId: "test-loader",
    },
    silentLogger,
  );
  await loader.start();
  await loader.whenReady();
  kon = new CliRunner({
    KON_ADMIN_URL: h.admin.url,
    KON_SERVERS: h.nats.url,
    KON_TLS_CA: h.nats.clientOptions().tlsCa,
    KON_GROUP: "alpha",
  });
  const login = await kon.run(["login", "--email", "ops@example.org", "--password-stdin"], {
    stdin: "correct horse battery\n",
  });
  expect(login.code).toBe(0);
  joinKey = ((await kon.json(["group", "create", "alpha"])) as { joinKey: string }).joinKey;
}, 60_000);

afterAll(async () => {
  await loader?.stop();
  await h?.stop();
  kon?.cleanup();
  if (root) rmSync(root, { recursive: true, force: true });
});

function file(name: string, text: string): string {
  const p = join(kon.configDir, name);
  writeFileSync(p, text);
  return p;
}

let rev1 = 0;
let rev2 = 0;

test("put creates a key from a YAML file, then updates it from stdin (JSON)", async () => {
  const made = writeSchema.parse(
    await kon.json(["put", "svc", file("svc.yaml", "port: 80\ntags: [a]\n")]),
  );
  expect(made.results[0]).toMatchObject({ module: "svc", status: "created" });
  rev1 = made.results[0]!.revision!;
  const upd = await kon.run(["put", "svc", "-"], { stdin: '{"port": 81, "tags": ["a"]}' });
  expect(upd.code).toBe(0);
  expect(upd.stdout).toMatch(/^alpha\/svc: updated revision (\d+) \(commit [0-9a-f]{12}\)\n$/);
  rev2 = Number(/revision (\d+)/.exec(upd.stdout)![1]);
  expect(rev2).toBeGreaterThan(rev1);
  const same = await kon.run(["put", "svc", file("same.json", '{"tags":["a"],"port":81}')]);
  expect(same.stdout).toContain("alpha/svc: unchanged");
});

test("a bad value is refused before anything is sent: syntax (with line), size", async () => {
  const bad = await kon.run(["put", "svc", file("bad.yaml", "port: 80\n  tags: [a\n")]);
  expect(bad.code).toBe(ExitCode.Failed);
  expect(bad.stderr).toMatch(/bad\.yaml:\d+:\d+: .*\[syntax\]\nhint: nothing was sent/);
  const dup = await kon.run(["put", "svc", file("dup.json", '{"a":1,"a":2}')]);
  expect(dup.code).toBe(ExitCode.Failed);
  const noExt = await kon.run(["put", "svc", file("value.txt", "a: 1")]);
  expect(noExt.code).toBe(ExitCode.Usage);
  const missing = await kon.run(["put", "svc", join(kon.configDir, "absent.yaml")]);
  expect(missing.code).toBe(ExitCode.NotFound);
  // none of them reached the API: the key is still at its last revision
  const cur = getSchema.parse(await kon.json(["get", "svc"]));
  expect(cur.revision).toBe(rev2);
});

test("H6: put takes any JSON value at the top level, as a file: an array, a scalar, null", async () => {
  // docs/wire-contract.md §3.1: one rule on every path (the loader, the config API, kon put).
  const arr = writeSchema.parse(
    await kon.json(["put", "flags", file("flags.yaml", "- fast\n- safe\n")]),
  );
  expect(arr.results[0]).toMatchObject({ module: "flags", status: "created" });
  expect(JSON.parse((await kon.run(["-q", "get", "flags"])).stdout)).toEqual(["fast", "safe"]);
  expect(getSchema.parse(await kon.json(["get", "flags"])).configs).toEqual(["fast", "safe"]);
  const human = await kon.run(["get", "flags"]);
  expect(human.stdout).toMatch(/\n\[\n {2}"fast",\n {2}"safe"\n\]\n$/);
  const from = arr.results[0]!.revision!;
  for (const [stdin, want] of [
    ["42", 42],
    ["null", null],
    ['"str"', "str"],
  ] as const) {
    const put = await kon.run(["put", "flags", "-"], { stdin });
    expect({ stdin, code: put.code, stderr: put.stderr }).toEqual({ stdin, code: 0, stderr: "" });
    expect(getSchema.parse(await kon.json(["get", "flags"])).configs).toEqual(want);
  }
  const d = await kon.run(["diff", "flags", String(from)]);
  expect(d.stdout).toBe('~ (whole value): ["fast","safe"] → "str"\n');
  expect((await kon.run(["rollback", "flags", String(from)])).code).toBe(0);
  expect(getSchema.parse(await kon.json(["get", "flags"])).configs).toEqual(["fast", "safe"]);
});

test("get: fields and value, --json by schema, -q the value; an unknown key is 3", async () => {
  const g = getSchema.parse(await kon.json(["get", "svc"]));
  expect(g).toMatchObject({ group: "alpha", module: "svc", configs: { port: 81, tags: ["a"] } });
  expect(g.author).toContain("ops@example.org");
  const human = await kon.run(["get", "svc"]);
  expect(human.stdout).toMatch(/^key +alpha\/svc\nrevision +\d+\n/);
  expect(human.stdout).toContain('"port": 81');
  expect(JSON.parse((await kon.run(["-q", "get", "svc"])).stdout)).toEqual({
    port: 81,
    tags: ["a"],
  });
  const none = await kon.run(["get", "nope"]);
  expect(none.code).toBe(ExitCode.NotFound);
  const noGroup = await kon.run(["get", "svc"], { env: { KON_GROUP: "" } });
  expect(noGroup.code).toBe(ExitCode.Usage);
  const badKey = await kon.run(["get", "no such key"]);
  expect(badKey.code).toBe(ExitCode.Usage);
  expect(badKey.stderr).toContain('invalid config key "no such key"');
});

test("a stale --expect-revision is a conflict (4); --expect-revision 0 on an existing key too", async () => {
  const stale = await kon.run(["put", "svc", "--expect-revision", String(rev1), "-"], {
    stdin: '{"port": 1}',
  });
  expect(stale.code).toBe(ExitCode.Refused);
  expect(stale.stderr).toContain("→ 409");
  const exists = await kon.run(["put", "svc", "--expect-revision", "0", "-"], {
    stdin: '{"port": 1}',
  });
  expect(exists.code).toBe(ExitCode.Refused);
});

test("history: golden table; diff between revisions; rollback writes the old value anew", async () => {
  const hist = await kon.run(["history", "svc"]);
  expect(hist.code).toBe(0);
  const norm = hist.stdout
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g, "<time>")
    .replace(/\b[0-9a-f]{12}\b/g, "<hash>")
    .replace(/ +/g, " ");
  expect(norm).toBe(
    [
      "REVISION OP AT WHO COMMIT SHA256 FROM",
      `${rev2} put <time> ops@example.org <ops@example.org> <hash> <hash> kv`,
      `${rev1} put <time> ops@example.org <ops@example.org> <hash> <hash> kv`,
      "",
    ].join("\n"),
  );
  const d = await kon.run(["diff", "svc", String(rev1)]);
  expect(d.stdout).toBe("~ /port: 80 → 81\n");
  const dj = z
    .looseObject({ changes: z.array(z.looseObject({ op: z.string(), path: z.string() })) })
    .parse(await kon.json(["diff", "svc", String(rev1), String(rev2)]));
  expect(dj.changes).toEqual([{ op: "changed", path: "/port", old: 80, value: 81 }]);
  const rb = writeSchema.parse(await kon.json(["rollback", "svc", String(rev1)]));
  expect(rb.results[0]!.status).toBe("updated");
  expect((getSchema.parse(await kon.json(["get", "svc"])) as { configs: unknown }).configs).toEqual(
    { port: 80, tags: ["a"] },
  );
  expect((await kon.run(["rollback", "svc", "soon"])).code).toBe(ExitCode.Usage);
});

test("watch as a member (join key) prints the value, then each change, as JSON lines", async () => {
  let firstValue: () => void = () => undefined;
  const started = new Promise<void>((r) => (firstValue = r));
  const watching = kon.run(["--json", "watch", "svc", "--join-key", "-", "--count", "2"], {
    env: { KON_JOIN_KEY: joinKey },
    onStdout: (text) => text.includes("\n") && firstValue(),
  });
  await Promise.race([started, watching]);
  expect((await kon.run(["put", "svc", "-"], { stdin: '{"port": 90}' })).code).toBe(0);
  const w = await watching;
  expect(w.code).toBe(0);
  const lines = w.stdout
    .trim()
    .split("\n")
    .map((l) => watchLine.parse(JSON.parse(l)));
  expect(lines.map((l) => l.value)).toEqual([{ port: 80, tags: ["a"] }, { port: 90 }]);
  // Without a join key it polls the admin API.
  const polled = await kon.run(["--json", "watch", "svc", "--count", "1"]);
  expect(watchLine.parse(JSON.parse(polled.stdout)).value).toEqual({ port: 90 });
});

test("activate: a value with an activation time; --at is required and checked", async () => {
  const at = new Date(Date.now() + 60_000).toISOString();
  const a = await kon.run(["activate", "svc", "--at", at, "-"], { stdin: '{"port": 91}' });
  expect(a.code).toBe(0);
  expect(a.stdout).toContain(`active at ${at}`);
  const g = getSchema.parse(await kon.json(["get", "svc"]));
  expect(g.activate_at).toBe(at);
  expect((await kon.run(["activate", "svc", "-"], { stdin: "{}" })).code).toBe(ExitCode.Usage);
  const past = await kon.run(["put", "svc", "--at", "yesterday", "-"], { stdin: "{}" });
  expect(past.code).toBe(ExitCode.Usage);
  // Beyond Date's range: a usage error, not "unexpected failure: Invalid time value" (1).
  const far = await kon.run(["activate", "svc", "--at", "+99999999d", "-"], { stdin: "{}" });
  expect(far.code).toBe(ExitCode.Usage);
  expect(far.stderr).toContain("use an RFC 3339 time with a zone");
});
