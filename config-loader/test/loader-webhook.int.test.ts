import { request } from "node:http";
import { webhookSignature } from "@konorkestra/sdk/internal";
import type { ReconcileReport } from "../src/reconcile-report";
import { Harness, passes, put } from "./loader-harness";
import { signedRefresh, writeWebhookSecret } from "./signed-refresh";

// Issue 10 item 4: POST /v1/_refresh needs an X-Hub-Signature-256 HMAC of its raw body; a burst
// of signed requests shares passes; every route is behind the Host allow-list.

describe("config-loader refresh webhook", () => {
  let h: Harness;
  let url: string;
  let secret: string;
  let loader: Awaited<ReturnType<Harness["loader"]>>["loader"];

  beforeAll(async () => {
    h = await Harness.start();
    const root = h.tempDir();
    put(root, "hook1/app.json", '{"v": 1}');
    const hook = writeWebhookSecret(h.tempDir());
    secret = hook.secret;
    ({ loader } = await h.loader(root, { webhookSecretFile: hook.file }));
    url = loader.url;
  });
  afterAll(async () => {
    await h?.stop();
  });

  const post = (headers: Record<string, string | undefined>, body = '{"ref":"x"}') =>
    fetch(`${url}/v1/_refresh`, {
      method: "POST",
      headers: Object.fromEntries(
        Object.entries(headers).filter((e): e is [string, string] => e[1] !== undefined),
      ),
      body,
    });

  it("refuses a missing, wrong, truncated or other-body signature with one 401, running no pass", async () => {
    const before = await passes(loader, "full");
    const body = '{"ref":"x"}';
    const answers: { status: number; body: unknown }[] = [];
    for (const headers of [
      {},
      { "x-hub-signature-256": webhookSignature("not-the-shared-secret", body) },
      { "x-hub-signature-256": webhookSignature(secret, body).slice(0, 40) },
      { "x-hub-signature-256": webhookSignature(secret, '{"ref":"y"}') },
      { "x-hub-signature-256": webhookSignature(secret, body).replace("sha256=", "sha1=") },
    ]) {
      const r = await post(headers, body);
      answers.push({ status: r.status, body: await r.json() });
    }
    for (const a of answers) expect(a).toEqual(answers[0]);
    expect(answers[0]).toMatchObject({ status: 401, body: { error: { code: "UNAUTHORIZED" } } });
    expect(await passes(loader, "full")).toBe(before);
  });

  it("accepts the git hosts' signature of the exact raw body", async () => {
    const res = await signedRefresh(url, secret, '{"ref":"refs/heads/main","commits":[]}');
    expect(res.status).toBe(200);
    expect((await res.json()) as ReconcileReport).toMatchObject({ ok: true, scope: "full" });
  });

  it("a burst of signed requests shares passes instead of running one each", async () => {
    const before = await passes(loader, "full");
    const n = 20;
    const answers = await Promise.all(
      Array.from({ length: n }, () => signedRefresh(url, secret).then((r) => r.json())),
    );
    const reports = answers as ReconcileReport[];
    expect(reports.every((r) => r.ok)).toBe(true);
    const ran = (await passes(loader, "full")) - before;
    // Each request waits for a pass that started after it arrived; all of them arrive while the
    // first pass runs or soon after, so they share a few passes (the exact merge rule is in
    // refresh-coalescer.test.ts).
    expect(new Set(reports.map((r) => r.startedAtMs)).size).toBe(ran);
    expect(ran).toBeGreaterThanOrEqual(1);
    expect(ran).toBeLessThan(n);
  });

  it("refuses a body over the limit with 413 and a name that is not its own with 421", async () => {
    const big = "x".repeat(5 * 1024 * 1024 + 1);
    const res = await signedRefresh(url, secret, big);
    expect(res.status).toBe(413);
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const u = new URL(url);
      request(
        { host: u.hostname, port: u.port, path: "/healthz", headers: { host: "evil.example" } },
        (r) => {
          r.resume();
          resolve(r.statusCode);
        },
      )
        .on("error", reject)
        .end();
    });
    expect(status).toBe(421);
  });

  it("without a secret the webhook is off (403), /healthz and /metrics stay open", async () => {
    const root = h.tempDir();
    put(root, "hook2/app.json", "{}");
    const { loader: open, logs } = await h.loader(root);
    const r = await signedRefresh(open.url, secret);
    expect(r.status).toBe(403);
    expect(logs.join("\n")).toMatch(/no KON_LOADER_WEBHOOK_SECRET_FILE/);
    expect((await fetch(`${open.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${open.url}/metrics`)).status).toBe(200);
  });
});
