import { parseMonitorOptions } from "../src/options";

describe("parseMonitorOptions", () => {
  it("applies the documented defaults", () => {
    const o = parseMonitorOptions({}, { KON_MONITOR_ID: "m1" });
    expect(o).toMatchObject({
      servers: ["nats://127.0.0.1:4222"],
      prefix: "kon",
      backend: "nats",
      port: 7002,
      host: "127.0.0.1",
      flapCount: 3,
      flapWindowMs: 300_000,
      massFailurePct: 50,
      monitorId: "m1",
      sweepIntervalMs: 100,
      recordRefreshMs: 10_000,
    });
    expect(o.groups).toBeUndefined();
    expect(o.ingestToken).toBeUndefined();
  });

  it("reads KON_* variables, given options winning", () => {
    const env = {
      KON_SERVERS: "nats://a:1, nats://b:2",
      KON_LIVENESS_BACKEND: "redis",
      KON_REDIS_URL: "redis://127.0.0.1:7777",
      KON_MONITOR_PORT: "0",
      KON_GROUPS: "g1, g2",
      KON_FLAP_COUNT: "5",
      KON_MASS_FAILURE_PCT: "75",
      KON_RECORD_REFRESH_MS: "0",
    };
    const o = parseMonitorOptions({ flapCount: 7 }, env);
    expect(o).toMatchObject({
      servers: ["nats://a:1", "nats://b:2"],
      backend: "redis",
      redisUrl: "redis://127.0.0.1:7777",
      port: 0,
      groups: ["g1", "g2"],
      flapCount: 7,
      massFailurePct: 75,
      recordRefreshMs: 0,
    });
    expect(() => parseMonitorOptions({ monitorId: "m1", recordRefreshMs: -1 }, {})).toThrow(
      /recordRefreshMs/,
    );
  });

  it("reads KON_* variables as every service does: empty means the default", () => {
    const env = {
      KON_MONITOR_ID: "m1",
      KON_SERVERS: "",
      KON_PREFIX: " ",
      KON_LIVENESS_BACKEND: "",
      KON_MONITOR_HOST: "",
      KON_MONITOR_PORT: "",
      KON_GROUPS: " , ",
      KON_INGEST_TOKEN: "",
      KON_TOKEN: "",
    };
    const o = parseMonitorOptions({}, env);
    expect(o).toMatchObject({
      servers: ["nats://127.0.0.1:4222"],
      prefix: "kon",
      backend: "nats",
      host: "127.0.0.1",
      port: 7002,
    });
    expect(o.groups).toBeUndefined();
    expect(o.ingestToken).toBeUndefined();
    expect(o.token).toBeUndefined();
  });

  it.each([
    [{ KON_FLAP_WINDOW_MS: "0x10000" }, /flapWindowMs/],
    [{ KON_LIVENESS_BACKEND: "etcd" }, /backend/],
    [{ KON_MONITOR_PORT: "70000" }, /port/],
    [{ KON_GROUPS: "Good,bad name" }, /groups\.0: group names/],
    [{ KON_FLAP_COUNT: "zero" }, /flapCount/],
    [{ KON_MONITOR_ID: "has space" }, /monitorId/],
    [{ KON_INGEST_TOKEN: "0123456789" }, /ingestToken: KON_INGEST_TOKEN is no longer used/],
    [{ KON_REDIS_URL: "http://x" }, /redisUrl/],
  ])("names the bad field: %j", (env, message) => {
    let caught: unknown;
    try {
      parseMonitorOptions({}, env);
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ code: "INVALID_OPTIONS" });
    expect((caught as Error).message).toMatch(/^invalid monitor option /);
    expect((caught as Error).message).toMatch(message);
  });
});
