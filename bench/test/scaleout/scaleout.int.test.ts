import { parseScaleoutOptions } from "../../src/scaleout/scaleout-options";
import { formatReport, problems, resultJson } from "../../src/scaleout/scaleout-report";
import { runScaleout } from "../../src/scaleout/scaleout-run";

describe("bench:scaleout, tiny (3-server NATS cluster, 2 monitors, 2 analytics, PostgreSQL)", () => {
  it("reports detection, per-process cost and ingest, with every stopped node down once", async () => {
    const o = parseScaleoutOptions([
      "--nodes",
      "200",
      "--stop",
      "4",
      "--warmup-s",
      "3",
      "--tail-s",
      "8",
      "--miss-after-s",
      "8",
    ]);
    const r = await runScaleout(o, () => undefined);
    const d = r.row.detection;
    // A simulator that fell behind makes beating nodes look silent: say so before any count.
    expect(r.row.problems).toEqual([]);
    expect(d.stopped).toBe(4);
    expect(d.withDeadline).toBe(4);
    expect(d.missed).toBe(0);
    expect(d.falsePositives).toBe(0);
    // Two monitors share the fleet: each down is published by one (or deduplicated by its id).
    expect(d.duplicates).toBe(0);
    expect(r.row.lostBeats).toBe(0);
    // Production credentials: nodes joined through the auth callout (one check per server's
    // connection, before the window); the probe read monitor 1's /metrics with a read token.
    expect(r.row.auth).toMatch(/join key through the auth callout/);
    expect(r.row.calloutsInWindow).toBe(0);
    expect(r.health?.samples).toBeGreaterThan(0);
    expect(r.row.sim.cpuUsPerBeat).toBeGreaterThan(0);
    // Both analytics instances took part, and the table holds each stored heartbeat once.
    expect(r.ingest.rowsPerInstance).toHaveLength(2);
    expect(r.ingest.rowsInTable).toBe(r.ingest.stored);
    expect(r.ingest.distinctRows).toBe(r.ingest.stored);
    expect(r.ingest.lag.n).toBeGreaterThan(0);
    for (const name of [
      "nats-1",
      "nats-2",
      "nats-3",
      "monitor-1",
      "monitor-2",
      "analytics-1",
      "analytics-2",
    ]) {
      expect(r.row.usage[name]?.cpuS).toBeGreaterThan(0);
      expect(r.row.usage[name]?.rssMaxMiB).toBeGreaterThan(0);
    }
    const text = formatReport(r).join("\n");
    expect(text).toMatch(/detection \(4 of 4 with a server deadline\): p50 \d/);
    expect(text).toMatch(/ingest: [\d,]+ rows\/s/);
    expect(problems(r)).toEqual(r.row.problems);
    const json = JSON.parse(resultJson(r)) as Record<string, unknown>;
    expect(json).toMatchObject({
      bench: "scaleout",
      nodes: 200,
      servers: 3,
      missed: 0,
      duplicates: 0,
    });
    expect(typeof json.detect_p99_ms).toBe("number");
    expect(typeof json.ingest_lag_p99_ms).toBe("number");
  }, 300_000);
});
