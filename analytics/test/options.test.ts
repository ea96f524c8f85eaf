import { KonError } from "@konorkestra/sdk";
import { parseAnalyticsOptions } from "../src/options";

describe("analytics options", () => {
  test("defaults", () => {
    const o = parseAnalyticsOptions({}, {});
    expect(o).toMatchObject({
      servers: ["nats://127.0.0.1:4222"],
      pgUrl: "postgres://kon:kon@127.0.0.1:5432/konorkestra",
      port: 7003,
      host: "127.0.0.1",
      batchRows: 5000,
      batchMs: 100,
      ingestConcurrency: 2,
      apiCacheMs: 1000,
      heartbeatConsumer: "analytics-hb",
      eventConsumer: "analytics-evt",
      configConsumer: "analytics-cfg",
      heartbeatChunkInterval: "1 hour",
      rawRetention: "7 days",
      aggregateRetention: "1 year",
      heartbeatNodeIndex: false,
      configEventRetention: "2 years",
    });
  });

  test("KON_* variables, given options win over them", () => {
    const env = {
      KON_ANALYTICS_PORT: "9000",
      KON_INGEST_BATCH_ROWS: "100",
      KON_RETENTION_RAW: "3 days",
      KON_ANALYTICS_CONSUMER_CFG: "cfg-2",
      KON_RETENTION_CONFIG_EVENTS: "90 days",
    };
    expect(parseAnalyticsOptions({}, env)).toMatchObject({
      port: 9000,
      batchRows: 100,
      rawRetention: "3 days",
      configConsumer: "cfg-2",
      configEventRetention: "90 days",
    });
    expect(parseAnalyticsOptions({ port: 1234 }, env).port).toBe(1234);
    for (const [v, on] of [
      ["on", true],
      ["OFF", false],
      ["true", true],
      ["0", false],
    ] as const) {
      expect(parseAnalyticsOptions({}, { KON_HB_NODE_INDEX: v }).heartbeatNodeIndex).toBe(on);
    }
  });

  test.each([
    [{ KON_INGEST_BATCH_ROWS: "many" }, /batchRows/],
    [{ KON_RETENTION_RAW: "a week" }, /rawRetention: use '<n> <unit>'/],
    [{ KON_PG_URL: "mysql://x" }, /pgUrl/],
    [{ KON_ANALYTICS_CONSUMER_HB: "bad name" }, /heartbeatConsumer/],
    [{ KON_HB_NODE_INDEX: "sometimes" }, /KON_HB_NODE_INDEX="sometimes": use on\/off/],
    [{ KON_ANALYTICS_CONSUMER_CFG: "a.b" }, /configConsumer/],
    [{ KON_RETENTION_CONFIG_EVENTS: "forever" }, /configEventRetention/],
    [{ KON_INGEST_RETRY_MIN_MS: "500", KON_INGEST_RETRY_MAX_MS: "100" }, /retryMaxMs/],
  ])("a bad value names the field: %j", (env, message) => {
    expect(() => parseAnalyticsOptions({}, env)).toThrow(KonError);
    expect(() => parseAnalyticsOptions({}, env)).toThrow(message);
  });
});
