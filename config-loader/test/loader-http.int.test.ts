import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Kvm } from "@nats-io/kv";
import type { ReconcileReport } from "../src/reconcile-report";
import { Harness, names, put, text, waitFor } from "./loader-harness";
import { signedRefresh, writeWebhookSecret } from "./signed-refresh";

describe("config-loader admin API", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start();
  });
  afterAll(async () => {
    await h?.stop();
  });

  it("POST /v1/_refresh runs a full reconcile that repairs drift in the bucket", async () => {
    const root = h.tempDir();
    put(root, "http1/app.json", '{"v": 1}');
    put(root, "http1/other.yaml", "x: 1\n");
    const hook = writeWebhookSecret(h.tempDir());
    const { loader } = await h.loader(root, { webhookSecretFile: hook.file });

    // Changes the watcher cannot see: someone wrote to and deleted from the bucket by hand.
    const kv = await new Kvm(h.nc).open(names.configBucket("http1"));
    await kv.put("app", new TextEncoder().encode("garbage"));
    await kv.delete("other");
    await kv.put("stray", new TextEncoder().encode("x"));

    const res = await signedRefresh(loader.url, hook.secret);
    expect(res.status).toBe(200);
    const report = (await res.json()) as ReconcileReport;
    expect(report).toMatchObject({ ok: true, scope: "full" });
    const g = report.groups.find((x) => x.group === "http1")!;
    expect(g.changeSets).toHaveLength(1);
    expect(g.changeSets[0]).toMatchObject({
      size: 3,
      atomic: true,
      puts: ["app", "other"],
      deletes: ["stray"],
    });

    const all = await h.entries("http1");
    expect([...all.keys()].sort()).toEqual(["app", "other"]);
    expect(text(all.get("app")!.entry)).toBe('{"v":1}');
  });

  it("GET /healthz is 200 when connected and reconciled, 503 with the reason while NATS is down", async () => {
    const root = h.tempDir();
    put(root, "health1/app.json", '{"v": 1}');
    const hook = writeWebhookSecret(h.tempDir());
    const { loader } = await h.loader(root, { webhookSecretFile: hook.file });
    const health = async (): Promise<{ status: number; body: Record<string, unknown> }> => {
      const r = await fetch(`${loader.url}/healthz`);
      return { status: r.status, body: (await r.json()) as Record<string, unknown> };
    };
    expect(await health()).toMatchObject({ status: 200, body: { ok: true, connected: true } });

    await h.nats.shutdown();
    const down = await waitFor(async () => {
      const x = await health();
      return x.status === 503 ? x : undefined;
    }, "503 while NATS is down");
    expect(down.body).toMatchObject({
      ok: false,
      connected: false,
      reason: "not connected to NATS",
    });
    // A change made during the outage is not lost: it is published once NATS is back.
    put(root, "health1/app.json", '{"v": 2}');
    const refresh = await signedRefresh(loader.url, hook.secret);
    expect(refresh.status).toBe(503);
    expect(((await refresh.json()) as ReconcileReport).error?.message).toMatch(/not connected/);

    await h.nats.restart();
    await waitFor(
      async () => ((await health()).status === 200 ? true : undefined),
      "200 after reconnect",
      20_000,
    );
    await waitFor(async () => {
      const e = (await h.entries("health1")).get("app");
      return e && text(e.entry) === '{"v":2}' ? true : undefined;
    }, "change made during the outage published");
  });

  it("GET /metrics exposes files, publishes, rejections, batches and reconcile timing", async () => {
    const root = h.tempDir();
    put(root, "metrics1/a.json", "{}");
    put(root, "metrics1/b.json", "{}");
    put(root, "metrics1/bad.json", "{");
    const { loader } = await h.loader(root);
    const res = await fetch(`${loader.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/text\/plain/);
    const body = await res.text();
    expect(body).toMatch(/^kon_loader_files_scanned_total 3$/m);
    expect(body).toMatch(/^kon_loader_keys_published_total 2$/m);
    expect(body).toMatch(/^kon_loader_files_rejected_total\{reason="syntax"\} 1$/m);
    expect(body).toMatch(/^kon_loader_change_sets_total\{kind="atomic"\} 1$/m);
    expect(body).toMatch(/^kon_loader_reconcile_duration_seconds_count\{scope="full"\} [1-9]/m);
    expect(body).toMatch(/^kon_loader_last_success_timestamp_seconds [1-9]/m);
    expect(body).toMatch(/^kon_loader_nats_connected 1$/m);
    expect((await fetch(`${loader.url}/nope`)).status).toBe(404);
  });

  it("starts without its folder (503), and publishes once the folder appears", async () => {
    const base = h.tempDir();
    const root = join(base, "later");
    const { loader, logs } = await h.loader(root, {}, false);
    const first = await waitFor(async () => {
      const r = await fetch(`${loader.url}/healthz`);
      return r.status === 503 ? ((await r.json()) as { reason: string }) : undefined;
    }, "503 without folder");
    await waitFor(
      () => (loader.health().reason?.includes("unavailable") ? true : undefined),
      "reason",
    );
    expect(first.reason).toBeDefined();
    mkdirSync(join(root, "late1"), { recursive: true });
    put(root, "late1/app.json", '{"late": true}');
    await waitFor(
      async () => (await h.entries("late1").catch(() => undefined))?.get("app"),
      "published",
      20_000,
    );
    await waitFor(() => (loader.health().ok ? true : undefined), "healthy");
    expect(logs.filter((l) => /config directory .* unavailable/.test(l))).toHaveLength(1);

    // A vanished root (an unmounted volume) deletes nothing: 503 until it is back.
    rmSync(root, { recursive: true });
    await waitFor(() => (loader.health().ok ? undefined : true), "unhealthy without root");
    expect((await h.entries("late1")).has("app")).toBe(true);
    // Created again under the same path: the watch follows the new folder.
    put(root, "late1/again.json", '{"again": true}');
    const back = await waitFor(
      async () => {
        const x = await h.entries("late1");
        return x.has("again") ? x : undefined;
      },
      "published again",
      20_000,
    );
    expect(back.has("app")).toBe(false);
    put(root, "late1/more.json", "{}");
    await waitFor(async () => (await h.entries("late1")).get("more"), "watched again", 20_000);
  });
});
