import { execFileSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { createConfigLoader } from "@konorkestra/config-loader";
import { Heartbeat, encodeMessage } from "@konorkestra/proto";
import type { ConfigLoader } from "@konorkestra/config-loader";
import { connectService, ensureSchemasBucket, wireNames } from "@konorkestra/sdk/internal";
import { createAdmin } from "../src/admin-service";
import { AdminHarness, errorOf } from "./helpers/admin-harness";
import type { HttpAnswer } from "./helpers/admin-harness";

// The config write API against real NATS, PostgreSQL, git and a real config-loader watching the
// same folder: one publishing path (file + commit → loader → KV), CAS, schema refusal before any
// write, the mirror rule, history/diff/rollback, group-limited tokens, compaction, the
// activation horizon.

let h: AdminHarness;
let nc: NatsConnection;
let loader: ConfigLoader;
let root: string;
let session: string;
let alphaWriter: string;
let alphaReader: string;
const names = wireNames("kon");
const loaderLog: string[] = [];

const git = (...args: string[]): string =>
  execFileSync("git", ["-C", root, ...args], { encoding: "utf8" }).trim();
const cfg = (group: string, rest = ""): string => `/v1/groups/${group}/configs${rest}`;

async function write(
  mode: "create" | "update",
  group: string,
  body: unknown,
  token = alphaWriter,
): Promise<HttpAnswer> {
  return h.http("POST", cfg(group, `/_${mode}`), { token, body });
}

type Result = {
  module: string;
  status: string;
  revision?: number;
  commit?: string;
  sha256: string;
};
const results = (a: HttpAnswer): Result[] => a.body.results as Result[];

beforeAll(async () => {
  root = realpathSync(mkdtempSync(join(process.env.KON_TEST_TMPDIR ?? tmpdir(), "kon-cfgapi-")));
  h = await AdminHarness.start({ configDir: root, configWaitMs: 8000, compactionIntervalMs: 0 });
  nc = await connect({ ...h.nats.clientOptions(), name: "config-api-test" });
  session = await h.firstAdmin();
  for (const g of ["alpha", "beta"]) {
    const r = await h.http("POST", "/v1/groups", { token: session, body: { name: g } });
    expect(r.status).toBe(201);
  }
  const tok = async (name: string, scopes: string[], groups?: string[]): Promise<string> => {
    const t = await h.http("POST", "/v1/tokens", {
      token: session,
      body: { name, scopes, groups },
    });
    expect(t.status).toBe(201);
    return t.body.token as string;
  };
  alphaWriter = await tok("alpha-ci", ["write"], ["alpha"]);
  alphaReader = await tok("alpha-dash", ["read"], ["alpha"]);
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
    {
      info: (m) => loaderLog.push(m),
      warn: (m) => loaderLog.push(m),
      error: (m) => loaderLog.push(m),
    },
  );
  await loader.start();
  await loader.whenReady();
}, 60_000);

afterAll(async () => {
  await loader?.stop();
  await nc?.close();
  await h?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe("config write API", () => {
  it("_create publishes through the folder and git, and is idempotent", async () => {
    const a = await write("create", "alpha", [
      { module: "svc", configs: { port: 80, tags: ["a"] } },
    ]);
    expect(a.status).toBe(200);
    const [r] = results(a);
    expect(r).toMatchObject({ module: "svc", status: "created" });
    expect(r!.revision).toBeGreaterThan(0);
    expect(r!.commit).toMatch(/^[0-9a-f]{40}$/);
    // The repository was made at the root; the commit is authored by the acting admin.
    expect(git("log", "-1", "--format=%H %ae")).toBe(`${r!.commit} root@example.org`);
    expect(JSON.parse(readFileSync(join(root, "alpha", "svc.json"), "utf8"))).toEqual({
      port: 80,
      tags: ["a"],
    });
    const intent = JSON.parse(git("show", `${r!.commit}:alpha/.kon/intents/svc.json`)) as Record<
      string,
      unknown
    >;
    expect(intent.sha256).toBe(r!.sha256);

    const g = await h.http("GET", cfg("alpha", "/svc"), { token: alphaReader });
    expect(g.status).toBe(200);
    expect(g.body).toMatchObject({
      module: "svc",
      configs: { port: 80, tags: ["a"] },
      revision: r!.revision,
      sha256: r!.sha256,
      commit: r!.commit,
      author: "root@example.org <root@example.org>",
    });

    const again = await write("create", "alpha", [
      { module: "svc", configs: { port: 9999 } },
      { module: "web.front", configs: { title: "hi" } },
    ]);
    expect(again.status).toBe(200);
    expect(results(again).map((x) => [x.module, x.status])).toEqual([
      ["svc", "skipped"],
      ["web.front", "created"],
    ]);
    expect(readFileSync(join(root, "alpha", "web", "front.json"), "utf8")).toContain('"hi"');
    expect(
      (await h.http("GET", cfg("alpha", "/svc"), { token: alphaReader })).body.configs,
    ).toEqual({
      port: 80,
      tags: ["a"],
    });
  });

  it("_update changes a key, refuses an unknown one, and reports an unchanged value", async () => {
    const u = await write("update", "alpha", [
      { module: "svc", configs: { port: 81, tags: ["a"] } },
    ]);
    expect(u.status).toBe(200);
    expect(results(u)[0]).toMatchObject({ status: "updated" });
    const same = await write("update", "alpha", [
      { module: "svc", configs: { tags: ["a"], port: 81 } },
    ]);
    expect(results(same)[0]).toMatchObject({
      status: "unchanged",
      revision: results(u)[0]!.revision,
    });
    const missing = await write("update", "alpha", [{ module: "nope", configs: {} }]);
    expect(missing.status).toBe(404);
    expect(errorOf(missing).code).toBe("NOT_FOUND");
  });

  it("answers 404, not 500, for a key of a group that has no config bucket", async () => {
    const r = await h.http("GET", cfg("nosuchgroup", "/svc"), { token: session });
    expect(r.status).toBe(404);
    expect(errorOf(r).code).toBe("NOT_FOUND");
    expect(errorOf(r).message).toMatch(/group nosuchgroup has no config bucket/);
  });

  it("compare-and-set: a stale expected_revision is a 409; concurrent updates of one key serialise", async () => {
    const cur = (await h.http("GET", cfg("alpha", "/svc"), { token: alphaReader })).body
      .revision as number;
    const stale = await write("update", "alpha", [
      { module: "svc", configs: { port: 1 }, expected_revision: cur - 1 },
    ]);
    expect(stale.status).toBe(409);
    expect(errorOf(stale).details).toMatchObject({ current_revision: cur });
    const [x, y] = await Promise.all([
      write("update", "alpha", [{ module: "svc", configs: { port: 82 }, expected_revision: cur }]),
      write("update", "alpha", [{ module: "svc", configs: { port: 83 }, expected_revision: cur }]),
    ]);
    expect([x.status, y.status].sort()).toEqual([200, 409]);
    const won = x.status === 200 ? 82 : 83;
    expect(
      (await h.http("GET", cfg("alpha", "/svc"), { token: alphaReader })).body.configs,
    ).toEqual({ port: won });
  });

  it("two admin instances on one folder lose no update: commits are compare-and-set on the branch", async () => {
    const second = await createAdmin({
      ...h.nats.serviceOptions("admin"),
      pgUrl: h.db.url,
      port: 0,
      signingKeyFile: h.signingKeyFile,
      bootstrapTokenFile: h.bootstrapFile,
      argon2MemoryKib: 1024,
      argon2TimeCost: 1,
      logger: h.log.logger,
      configDir: root,
      configWaitMs: 8000,
      compactionIntervalMs: 0,
    });
    const viaSecond = async (body: unknown): Promise<HttpAnswer> => {
      const res = await fetch(`${second.url}${cfg("beta", "/_update")}`, {
        method: "POST",
        headers: { authorization: `Bearer ${session}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      const text = await res.text();
      return {
        status: res.status,
        body: JSON.parse(text) as HttpAnswer["body"],
        headers: res.headers,
        text,
      };
    };
    const file = "beta/race.json";
    const headValue = (): unknown => JSON.parse(git("show", `HEAD:${file}`));
    try {
      expect(
        (await write("create", "beta", [{ module: "race", configs: { n: 0 } }], session)).status,
      ).toBe(200);
      // Three writes through each instance at once: each instance serialises its own, the two
      // race on the branch.
      const sent = [1, 2, 3].flatMap((i) => [{ n: 100 + i }, { n: 200 + i }]);
      const answers = await Promise.all(
        sent.map((configs) =>
          configs.n < 200
            ? write("update", "beta", [{ module: "race", configs }], session)
            : viaSecond([{ module: "race", configs }]),
        ),
      );
      const history = git("log", "--format=%H", "--", file).split("\n");
      for (const [i, a] of answers.entries()) {
        expect([200, 202]).toContain(a.status);
        const commit = a.body.commit as string;
        expect(history).toContain(commit); // every accepted write is in the folder's history
        expect(JSON.parse(git("show", `${commit}:${file}`))).toEqual(sent[i]);
      }
      expect(new Set(answers.map((a) => a.body.commit)).size).toBe(sent.length);
      // Folder, index and bucket end on the newest commit's value, not an earlier one's.
      const deadline = Date.now() + 8000;
      for (;;) {
        const published = (await h.http("GET", cfg("beta", "/race"), { token: session })).body
          .configs;
        if (JSON.stringify(published) === JSON.stringify(headValue())) break;
        if (Date.now() > deadline) throw new Error(`bucket ${JSON.stringify(published)} ≠ HEAD`);
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(JSON.parse(readFileSync(join(root, file), "utf8"))).toEqual(headValue());
      expect(git("status", "--porcelain", "--", file, "beta/.kon/intents/race.json")).toBe("");

      // The same race with expected_revision: one wins, the other is the documented 409.
      const cur = (await h.http("GET", cfg("beta", "/race"), { token: session })).body
        .revision as number;
      const [x, y] = await Promise.all([
        write(
          "update",
          "beta",
          [{ module: "race", configs: { n: 1 }, expected_revision: cur }],
          session,
        ),
        viaSecond([{ module: "race", configs: { n: 2 }, expected_revision: cur }]),
      ]);
      expect([x.status, y.status].sort()).toEqual([200, 409]);
      const lost = x.status === 409 ? x : y;
      expect(errorOf(lost).code).toBe("CONFLICT");
      expect(errorOf(lost).details).toMatchObject({ module: "race", expected_revision: cur });
      expect(headValue()).toEqual({ n: x.status === 200 ? 1 : 2 });
    } finally {
      await second.close();
    }
  });

  it("a value failing a registered schema is refused before anything is written", async () => {
    const kv = await ensureSchemasBucket(nc, names);
    const schema = {
      type: "object",
      properties: { port: { type: "integer", minimum: 1, maximum: 65535 } },
      required: ["port"],
    };
    await kv.put(
      "alpha.svc",
      JSON.stringify({ schema, service: "svc", nodeId: "n1", registeredAtMs: Date.now() }),
    );
    const head = git("rev-parse", "HEAD");
    const file = readFileSync(join(root, "alpha", "svc.json"), "utf8");
    const bad = await write("update", "alpha", [{ module: "svc", configs: { port: "eighty" } }]);
    expect(bad.status).toBe(422);
    expect(errorOf(bad).code).toBe("UNPROCESSABLE");
    expect(errorOf(bad).message).toMatch(/\/port/);
    expect(git("rev-parse", "HEAD")).toBe(head);
    expect(readFileSync(join(root, "alpha", "svc.json"), "utf8")).toBe(file);
    const good = await write("update", "alpha", [{ module: "svc", configs: { port: 8080 } }]);
    expect(good.status).toBe(200);
  });

  it("input errors are 400 with code, message and details", async () => {
    const a = await write("update", "alpha", [{ module: "bad key!", configs: {} }]);
    expect(a.status).toBe(400);
    expect(errorOf(a)).toMatchObject({ code: "INVALID_INPUT", details: { field: "0.module" } });
    const b = await write("update", "alpha", { module: "svc" });
    expect(b.status).toBe(400);
  });

  it("H4: a value nested at any depth is a 400 INVALID_INPUT, never a stack overflow", async () => {
    const deep = (d: string, open: string, close: string, depth: number): string =>
      `[{"module":"${d}","configs":{"a":${open.repeat(depth)}1${close.repeat(depth)}}}]`;
    for (const [depth, open, close] of [
      [300, '{"a":', "}"],
      [100_000, "[", "]"],
      [100_000, '{"a":', "}"],
    ] as const) {
      const raw = deep("deep", open, close, depth);
      const a = await h.http("POST", cfg("alpha", "/_create"), { token: alphaWriter, raw });
      expect({ depth, status: a.status }).toEqual({ depth, status: 400 });
      expect(errorOf(a).code).toBe("INVALID_INPUT");
      expect(errorOf(a).message).toMatch(/nested more than \d+ levels deep/);
    }
    // Just over a value's own limit: the config rule's own words, naming the key.
    const near = await write("create", "alpha", [
      { module: "deep", configs: { a: JSON.parse("[".repeat(257) + "]".repeat(257)) as unknown } },
    ]);
    expect(near.status).toBe(400);
    expect(errorOf(near).message).toMatch(/^deep: .*nested more than 256 levels deep/);
    expect(existsSync(join(root, "alpha", "deep.json"))).toBe(false);
    const health = await h.http("GET", "/healthz");
    expect(health.status).toBe(200);
  });

  it("H6: any JSON value is a config value: arrays, scalars and null are written, read back, diffed and rolled back", async () => {
    // docs/wire-contract.md §3.1: the top level may be any JSON value, on every path. The file the
    // API writes is the one the loader publishes, by the same config-file rules.
    // A group of its own: other cases list every key of theirs.
    const made = await h.http("POST", "/v1/groups", { token: session, body: { name: "shapes" } });
    expect(made.status).toBe(201);
    const read = async (key: string): Promise<unknown> => {
      const g = await h.http("GET", cfg("shapes", `/${key}`), { token: session });
      expect(g.status).toBe(200);
      return g.body.configs;
    };
    const a = await write(
      "create",
      "shapes",
      [
        { module: "shape", configs: [1, 2] },
        { module: "shape.scalar", configs: 42 },
        { module: "shape.nul", configs: null },
        { module: "shape.str", configs: "str" },
      ],
      session,
    );
    expect(a.status).toBe(200);
    expect(results(a).map((x) => x.status)).toEqual(["created", "created", "created", "created"]);
    expect(await read("shape")).toEqual([1, 2]);
    expect(await read("shape.scalar")).toBe(42);
    expect(await read("shape.nul")).toBeNull();
    expect(await read("shape.str")).toBe("str");
    expect(JSON.parse(readFileSync(join(root, "shapes", "shape.json"), "utf8"))).toEqual([1, 2]);
    const r1 = results(a)[0]!.revision!;

    const u = await write("update", "shapes", [{ module: "shape", configs: 7 }], session);
    expect(u.status).toBe(200);
    expect(results(u)[0]!.status).toBe("updated");
    expect(await read("shape")).toBe(7);
    const d = await h.http("GET", cfg("shapes", `/shape/diff?from=${r1}`), { token: session });
    expect(d.body.changes).toEqual([{ op: "changed", path: "", old: [1, 2], value: 7 }]);
    const rb = await h.http("POST", cfg("shapes", "/shape/rollback"), {
      token: session,
      body: { revision: r1 },
    });
    expect(rb.status).toBe(200);
    expect(await read("shape")).toEqual([1, 2]);

    // A file the loader published with an array top level can be updated through the API.
    writeFileSync(join(root, "shapes", "flags.yaml"), "- fast\n- safe\n");
    git("add", "shapes/flags.yaml");
    git("-c", "user.name=op", "-c", "user.email=op@example.org", "commit", "-q", "-m", "flags");
    await loader.reconcile("full");
    expect(await read("flags")).toEqual(["fast", "safe"]);
    const f = await write("update", "shapes", [{ module: "flags", configs: ["fast"] }], session);
    expect(f.status).toBe(200);
    expect(await read("flags")).toEqual(["fast"]);

    // The same size and depth rules as a file, and a missing value is still refused.
    const deep = await write(
      "create",
      "shapes",
      [{ module: "shape.deep", configs: JSON.parse("[".repeat(257) + "]".repeat(257)) as unknown }],
      session,
    );
    expect(deep.status).toBe(400);
    expect(errorOf(deep).message).toMatch(/^shape\.deep: .*nested more than 256 levels deep/);
    const missing = await write("create", "shapes", [{ module: "shape.none" }], session);
    expect(missing.status).toBe(400);
    expect(errorOf(missing)).toMatchObject({
      code: "INVALID_INPUT",
      details: { field: "0.configs" },
    });
    expect(errorOf(missing).message).toContain("the value is missing");
    expect(existsSync(join(root, "shapes", "shape", "none.json"))).toBe(false);

    // A registered JSON Schema still decides per key.
    const kv = await ensureSchemasBucket(nc, names);
    await kv.put(
      "shapes.shape.scalar",
      JSON.stringify({
        schema: { type: "integer" },
        service: "svc",
        nodeId: "n1",
        registeredAtMs: Date.now(),
      }),
    );
    const bad = await write(
      "update",
      "shapes",
      [{ module: "shape.scalar", configs: [42] }],
      session,
    );
    expect(bad.status).toBe(422);
    expect(await read("shape.scalar")).toBe(42);
    const good = await write(
      "update",
      "shapes",
      [{ module: "shape.scalar", configs: 43 }],
      session,
    );
    expect(good.status).toBe(200);
  });

  it("activate_at in the past or beyond the horizon is refused; within it the intent carries it", async () => {
    const past = await write("update", "alpha", [
      {
        module: "svc",
        configs: { port: 1 },
        activate_at: new Date(Date.now() - 60_000).toISOString(),
      },
    ]);
    expect(past.status).toBe(400);
    expect(errorOf(past).message).toMatch(/in the past/);
    const far = await write("update", "alpha", [
      {
        module: "svc",
        configs: { port: 1 },
        activate_at: new Date(Date.now() + 30 * 86_400_000).toISOString(),
      },
    ]);
    expect(far.status).toBe(400);
    expect(errorOf(far).message).toMatch(/horizon/);
    const at = Date.now() + 60 * 60_000;
    const ok = await write("update", "alpha", [
      {
        module: "web.front",
        configs: { title: "later" },
        activate_at: new Date(at).toISOString(),
        consistency: "eventual",
      },
    ]);
    expect([200, 202]).toContain(ok.status);
    const intent = JSON.parse(
      readFileSync(join(root, "alpha", ".kon", "intents", "web.front.json"), "utf8"),
    ) as Record<string, unknown>;
    expect(intent).toMatchObject({
      activate_at_ms: at,
      consistency: "eventual",
      author: "root@example.org <root@example.org>",
    });
    // The loader applied the intent: the published entry carries the instant.
    const g = await h.http("GET", cfg("alpha", "/web.front"), { token: alphaReader });
    expect(g.body).toMatchObject({
      configs: { title: "later" },
      activate_at: new Date(at).toISOString(),
    });
  });

  it("a folder that mirrors a remote refuses API writes with 409", async () => {
    mkdirSync(join(root, "beta", ".kon"), { recursive: true });
    writeFileSync(join(root, "beta", ".kon", "mirror"), "git-sync\n");
    const a = await write("create", "beta", [{ module: "x", configs: {} }], session);
    expect(a.status).toBe(409);
    expect(errorOf(a).message).toBe("this folder mirrors a remote; push to the remote instead");
    unlinkSync(join(root, "beta", ".kon", "mirror"));
    git("remote", "add", "origin", "/nonexistent/repo.git");
    try {
      const b = await write("create", "beta", [{ module: "x", configs: {} }], session);
      expect(b.status).toBe(409);
      expect(errorOf(b).details).toMatchObject({ mirror: "git remote origin" });
    } finally {
      git("remote", "remove", "origin");
    }
  });

  it("a token limited to alpha can neither read nor write beta; such a token cannot be admin", async () => {
    const b = await write("create", "beta", [{ module: "y", configs: { a: 1 } }], session);
    expect(b.status).toBe(200);
    for (const [m, p, body] of [
      ["GET", cfg("beta", "/y"), undefined],
      ["GET", cfg("beta", "/y/history"), undefined],
      ["POST", cfg("beta", "/_update"), [{ module: "y", configs: { a: 2 } }]],
      ["POST", cfg("beta", "/_search"), {}],
    ] as const) {
      const a = await h.http(m, p, { token: alphaWriter, body });
      expect(a.status).toBe(403);
      expect(errorOf(a).code).toBe("FORBIDDEN");
    }
    expect((await h.http("GET", cfg("beta", "/y"), { token: session })).body.configs).toEqual({
      a: 1,
    });
    const groups = await h.http("GET", "/v1/groups", { token: alphaReader });
    expect((groups.body.groups as { name: string }[]).map((g) => g.name)).toEqual(["alpha"]);
    const t = await h.http("POST", "/v1/tokens", {
      token: session,
      body: { name: "x", scopes: ["admin"], groups: ["alpha"] },
    });
    expect(t.status).toBe(400);
    const ro = await write(
      "update",
      "alpha",
      [{ module: "svc", configs: { port: 2 } }],
      alphaReader,
    );
    expect(ro.status).toBe(403);
  });

  it("a strong write a live node does not vote for is abandoned: 409 naming the node, folder put back", async () => {
    writeFileSync(join(root, "beta", ".kon", "settings.yaml"), "prepare_timeout_ms: 300\n");
    // A live node of beta that runs key y but never answers the prepare (its record as the
    // liveness monitor writes it).
    const nodes = await new Kvm(nc).create(names.nodesBucket, { history: 1 });
    await nodes.put(
      "beta.ghost",
      encodeMessage(Heartbeat, { group: "beta", nodeId: "ghost", config: { y: { revision: 1 } } }),
    );
    const head = git("rev-parse", "HEAD");
    const a = await write(
      "update",
      "beta",
      [{ module: "y", configs: { a: 3 }, consistency: "strong" }],
      session,
    );
    expect(a.status).toBe(409);
    expect(errorOf(a).code).toBe("CONFLICT");
    const [r] = (errorOf(a).details as { results: (Result & { nodes: { node: string }[] })[] })
      .results;
    expect(r).toMatchObject({ module: "y", status: "aborted" });
    expect(r!.nodes.map((n) => n.node)).toEqual(["ghost"]);
    // The API's commit, then its revert: folder and bucket agree again.
    expect(git("rev-list", "--count", `${head}..HEAD`)).toBe("2");
    expect(git("log", "-1", "--format=%s")).toMatch(/^kon revert beta: y: aborted/);
    expect(JSON.parse(readFileSync(join(root, "beta", "y.json"), "utf8"))).toEqual({ a: 1 });
    expect((await h.http("GET", cfg("beta", "/y"), { token: session })).body.configs).toEqual({
      a: 1,
    });
    await nodes.delete("beta.ghost");
  });

  it("the API refuses by the loader's own schema rule: a format and a 2020 keyword the old reader missed are 422 naming the path, nothing committed", async () => {
    const kv = await ensureSchemasBucket(nc, names);
    const schema = {
      type: "object",
      properties: { ptr: { type: "string", format: "json-pointer" } },
      dependentRequired: { tls: ["ca"] },
    };
    await kv.put(
      "beta.z",
      JSON.stringify({ schema, service: "svc", nodeId: "n1", registeredAtMs: Date.now() }),
    );
    const head = git("rev-parse", "HEAD");
    for (const [configs, path, why] of [
      [{ ptr: "a/b" }, "/ptr", 'must match format "json-pointer"'],
      [{ ptr: "/a", tls: true }, "/ca", "must have property ca when property tls is present"],
    ] as const) {
      const a = await write("create", "beta", [{ module: "z", configs }], session);
      expect(a.status).toBe(422);
      expect(errorOf(a).code).toBe("UNPROCESSABLE");
      expect(errorOf(a).message).toBe(`z: ${path} ${why} (schema of svc); nothing was written`);
      expect(errorOf(a).details).toEqual({
        violations: [{ module: "z", service: "svc", path, message: why }],
      });
      expect(git("rev-parse", "HEAD")).toBe(head);
      expect(existsSync(join(root, "beta", "z.json"))).toBe(false);
    }
    const ok = await write("create", "beta", [{ module: "z", configs: { ptr: "/a" } }], session);
    expect(ok.status).toBe(200);
    expect(results(ok)[0]).toMatchObject({ module: "z", status: "created" });
  });

  it("the admin's credential may purge config streams (compaction) but no protected stream, and never writes config", async () => {
    const adminNc = await connectService({ ...h.nats.serviceOptions("admin"), role: "admin" });
    try {
      const jsm = await jetstreamManager(adminNc);
      const DENIED = /permissions violation/i;
      for (const s of [
        names.eventStream,
        names.heartbeatStream,
        `KV_${names.schemasBucket}`,
        `KV_${names.nodesBucket}`,
      ]) {
        await expect(jsm.streams.purge(s, { filter: "nothing.here" })).rejects.toThrow(DENIED);
      }
      await expect(
        jsm.streams.purge("KV_cfg_beta", { filter: "$KV.cfg_beta.none" }),
      ).resolves.toMatchObject({
        success: true,
      });
      const kv = await new Kvm(adminNc).open("cfg_beta");
      await expect(kv.put("y", "{}")).rejects.toThrow(DENIED);
    } finally {
      await adminNc.close();
    }
  });

  it("a write the loader does not publish within the wait is answered 202 pending, committed", async () => {
    // A second admin on a folder no loader watches, with a short wait.
    const other = realpathSync(
      mkdtempSync(join(process.env.KON_TEST_TMPDIR ?? tmpdir(), "kon-cfgapi-unwatched-")),
    );
    const second = await createAdmin({
      ...h.nats.serviceOptions("admin"),
      pgUrl: h.db.url,
      port: 0,
      signingKeyFile: h.signingKeyFile,
      bootstrapTokenFile: h.bootstrapFile,
      argon2MemoryKib: 1024,
      argon2TimeCost: 1,
      logger: h.log.logger,
      configDir: other,
      configWaitMs: 300,
      compactionIntervalMs: 0,
    });
    try {
      const res = await fetch(`${second.url}${cfg("alpha", "/_create")}`, {
        method: "POST",
        headers: { authorization: `Bearer ${alphaWriter}`, "content-type": "application/json" },
        body: JSON.stringify([{ module: "later", configs: { a: 1 } }]),
      });
      expect(res.status).toBe(202);
      const body = (await res.json()) as { commit: string; results: Result[] };
      expect(body.results[0]).toMatchObject({
        module: "later",
        status: "pending",
        commit: body.commit,
      });
      const log = execFileSync("git", ["-C", other, "log", "-1", "--format=%H"], {
        encoding: "utf8",
      });
      expect(log.trim()).toBe(body.commit);
    } finally {
      await second.close();
      rmSync(other, { recursive: true, force: true });
    }
  });

  it("_search finds by module, key prefix and revision", async () => {
    const all = await h.http("POST", cfg("alpha", "/_search"), { token: alphaReader, body: {} });
    expect((all.body.configs as { module: string }[]).map((c) => c.module)).toEqual([
      "svc",
      "web.front",
    ]);
    const pre = await h.http("POST", cfg("alpha", "/_search"), {
      token: alphaReader,
      body: { prefix: "web." },
    });
    expect((pre.body.configs as { module: string }[]).map((c) => c.module)).toEqual(["web.front"]);
    const cur = (await h.http("GET", cfg("alpha", "/svc"), { token: alphaReader })).body
      .revision as number;
    const byRev = await h.http("POST", cfg("alpha", "/_search"), {
      token: alphaReader,
      body: { module: "svc", revision: cur },
    });
    expect(byRev.body.configs).toEqual([expect.objectContaining({ module: "svc", revision: cur })]);
  });

  it("history pages with a cursor; diff is structural; rollback writes an old value as a new revision", async () => {
    await write("create", "alpha", [
      { module: "hist", configs: { v: 1, keep: true, list: [1, 2] } },
    ]);
    for (let v = 2; v <= 4; v++) {
      const u = await write("update", "alpha", [
        { module: "hist", configs: { v, list: [1, 2, v], added: `n${v}` } },
      ]);
      expect(u.status).toBe(200);
    }
    const seen: { revision: number; who: string; commit: string }[] = [];
    let cursor: string | null = null;
    do {
      const q: string = cursor ? `?limit=3&cursor=${cursor}` : "?limit=3";
      const p = await h.http("GET", cfg("alpha", `/hist/history${q}`), { token: alphaReader });
      expect(p.status).toBe(200);
      seen.push(...(p.body.items as typeof seen));
      cursor = p.body.next as string | null;
    } while (cursor);
    expect(seen).toHaveLength(4);
    const revs = seen.map((s) => s.revision);
    expect([...revs].sort((a, b) => b - a)).toEqual(revs);
    expect(
      seen.every(
        (s) => s.who === "root@example.org <root@example.org>" && /^[0-9a-f]{40}$/.test(s.commit),
      ),
    ).toBe(true);

    const [r4, , , r1] = revs;
    const d = await h.http("GET", cfg("alpha", `/hist/diff?from=${r1}&to=${r4}`), {
      token: alphaReader,
    });
    expect(d.status).toBe(200);
    expect(d.body.changes).toEqual([
      { op: "added", path: "/added", value: "n4" },
      { op: "removed", path: "/keep", old: true },
      { op: "added", path: "/list/2", value: 4 },
      { op: "changed", path: "/v", old: 1, value: 4 },
    ]);
    const bad = await h.http("GET", cfg("alpha", "/hist/diff?from=zz"), { token: alphaReader });
    expect(bad.status).toBe(400);

    const rb = await h.http("POST", cfg("alpha", "/hist/rollback"), {
      token: alphaWriter,
      body: { revision: r1 },
    });
    expect(rb.status).toBe(200);
    const now = results(rb)[0]!;
    expect(now.status).toBe("updated");
    expect(now.revision).toBeGreaterThan(r4!);
    const g = await h.http("GET", cfg("alpha", "/hist"), { token: alphaReader });
    expect(g.body.configs).toEqual({ v: 1, keep: true, list: [1, 2] });
    expect(git("log", "-1", "--format=%s")).toMatch(/^kon rollback alpha: hist/);
  });

  it("compaction applies the group's history depth and purges old tombstones, and reports it", async () => {
    writeFileSync(
      join(root, "alpha", ".kon", "settings.yaml"),
      "history: 2\nmax_bytes: 10485760\ntombstone_grace_ms: 0\n",
    );
    const created = await write("create", "alpha", [{ module: "gone", configs: { x: 1 } }]);
    const goneCommit = results(created)[0]!.commit!;
    // An operator deletes a key in the folder; the loader publishes a delete tombstone.
    git("rm", "-q", "alpha/gone.json");
    git("-c", "user.name=op", "-c", "user.email=op@example.org", "commit", "-q", "-m", "drop gone");
    const kv = await new Kvm(nc).open("cfg_alpha");
    const deadline = Date.now() + 8000;
    while ((await kv.get("gone"))?.operation !== "DEL") {
      if (Date.now() > deadline) throw new Error("the loader did not delete 'gone'");
      await new Promise((r) => setTimeout(r, 50));
    }
    const c = await h.http("POST", cfg("alpha", "/_compact"), { token: alphaWriter });
    expect(c.status).toBe(200);
    expect(c.body).toMatchObject({
      group: "alpha",
      tombstones: 1,
      applied: { history: 2, max_bytes: 10485760 },
    });
    expect(c.body.bytesFreed as number).toBeGreaterThan(0);
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info("KV_cfg_alpha", { subjects_filter: "$KV.cfg_alpha.>" });
    expect(info.config.max_msgs_per_subject).toBe(2);
    expect(Object.keys(info.state.subjects ?? {})).not.toContain("$KV.cfg_alpha.gone");
    expect(info.state.subjects?.["$KV.cfg_alpha.hist"]).toBe(2);
    expect(h.log.text()).toMatch(
      /config compaction alpha: purged 1 tombstone\(s\), \d+ message\(s\); [1-9]\d* bytes freed/,
    );
    const metrics = await h.http("GET", "/metrics", { token: session });
    expect(metrics.text).toMatch(/kon_admin_config_compaction_tombstones_total [1-9]/);

    // History beyond the bucket's two revisions comes from git.
    const hist = await h.http("GET", cfg("alpha", "/hist/history?limit=50"), {
      token: alphaReader,
    });
    const items = hist.body.items as { source: string; revision: number | null }[];
    expect(items.filter((i) => i.source === "kv")).toHaveLength(2);
    expect(items.filter((i) => i.source === "git").length).toBeGreaterThanOrEqual(3);

    // A value the bucket no longer keeps is still reachable by its commit: diff and rollback.
    const oldest = items[items.length - 1] as unknown as { commit: string; source: string };
    expect(oldest.source).toBe("git");
    const d = await h.http("GET", cfg("alpha", `/hist/diff?from=${oldest.commit}&to=current`), {
      token: alphaReader,
    });
    expect(d.status).toBe(200);
    expect(d.body.changes).toEqual([]); // the rollback above restored exactly the first value
    const gone = await h.http("GET", cfg("alpha", "/hist/diff?from=1"), { token: alphaReader });
    expect(gone.status).toBe(404);
    await write("update", "alpha", [{ module: "hist", configs: { v: 9 } }]);
    const rb = await h.http("POST", cfg("alpha", "/hist/rollback"), {
      token: alphaWriter,
      body: { commit: oldest.commit },
    });
    expect(rb.status).toBe(200);
    expect(
      (await h.http("GET", cfg("alpha", "/hist"), { token: alphaReader })).body.configs,
    ).toEqual({
      v: 1,
      keep: true,
      list: [1, 2],
    });

    // A deleted key, purged from the bucket, comes back by rolling back to its commit.
    const back = await h.http("POST", cfg("alpha", "/gone/rollback"), {
      token: alphaWriter,
      body: { commit: goneCommit },
    });
    expect(back.status).toBe(200);
    expect(results(back)[0]).toMatchObject({ module: "gone", status: "created" });
    const now = await h.http("GET", cfg("alpha", "/gone"), { token: alphaReader });
    expect(now.body.configs).toEqual({ x: 1 });
  });
});
