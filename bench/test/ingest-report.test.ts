import type { IngestPhase, IngestResults } from "../src/ingest/ingest-report";
import {
  formatRatios,
  formatTargets,
  formatThroughput,
  resultJson,
} from "../src/ingest/ingest-report";
import { formatIngestRepeats, ingestRepeatJson } from "../src/ingest/ingest-repeat";

const lat = { n: 100, p50: 10, p99: 40, max: 50 };
const cpu = { seconds: { analytics: 2, postgres: 1 }, cores: { analytics: 0.5, postgres: 0.25 } };
const phase: IngestPhase = {
  rows: 1_000_000,
  seconds: 20,
  rowsPerSec: 50_000,
  publishPerSec: 80_000,
  dropped: 0,
  lag: lat,
  cpu,
};

const results: IngestResults = {
  command: { npm: "npm run bench:ingest", node: "node bench/src/ingest/main.ts" },
  machine: {
    cpuModel: "cpu",
    cores: 2,
    memoryGiB: 8,
    os: "linux",
    kernel: "6",
    arch: "x64",
    node: "v20",
    loadAverage: [0, 0, 0],
    servers: {},
  },
  pgSettings: { fsync: "on" },
  analyticsEnv: {},
  nodes: 10_000,
  ceiling: { rows: 1_000_000, seconds: 5, rowsPerSec: 200_000 },
  burst: phase,
  drain: {
    published: 500_000,
    firstSeq: 1_000_001,
    rows: 480_000,
    seconds: 8,
    rowsPerSec: 60_000,
    cpu,
  },
  drainFloors: [
    {
      mode: "deliver",
      rows: 500_000,
      firstSeq: 1,
      lastSeq: 500_000,
      seconds: 5,
      rowsPerSec: 100_000,
      cpu,
    },
    {
      mode: "ack",
      rows: 500_000,
      firstSeq: 1,
      lastSeq: 500_000,
      seconds: 6.25,
      rowsPerSec: 80_000,
      cpu,
    },
    {
      mode: "ingest",
      rows: 500_000,
      firstSeq: 1,
      lastSeq: 500_000,
      seconds: 6.25,
      rowsPerSec: 75_000,
      cpu,
    },
  ],
  steady: { ...phase, rate: 10_000, lag: { n: 300, p50: 80, p99: 120.44, max: 130 } },
  apiNodes: { ...lat, nodes: 10_011, bytes: 9e6 },
  apiNodesFresh: { ...lat, p99: 90, nodes: 10_011, bytes: 9e6 },
  apiUptime: { ...lat, events: 3000, uptimePct: 50 },
  apiPage: { ...lat, p99: 6, nodes: 100, bytes: 42_000 },
  apiPageFresh: { ...lat, p99: 9, nodes: 100, bytes: 42_000 },
  steadyUnderCrowd: { ...phase, rate: 10_000, lag: { n: 300, p50: 90, p99: 180.66, max: 200 } },
  crowd: { ...lat, p99: 140, clients: 200 },
  crowdFloor: { ...lat, p99: 175, clients: 200 },
  analyticsMemMiB: { rss: 300, peak: 400 },
  rowsInTable: 1_510_000,
  rowsPublished: 1_510_000,
  durationS: 170,
  loadAtEnd: 1,
};

test("the last line carries the fields the issue asks for, and the ratios", () => {
  const j = JSON.parse(resultJson(results)) as Record<string, unknown>;
  expect(j).toMatchObject({
    bench: "ingest",
    rows_per_s: 50_000,
    lag_p99_ms: 120.4,
    api_nodes_p99_ms: 40,
    api_nodes_fresh_p99_ms: 90,
    api_uptime_p99_ms: 40,
    ceiling_rows_per_s: 200_000,
    ingest_over_ceiling: 0.25,
    drain_rows_per_s: 60_000,
    cpu_us_per_row_burst: { analytics: 2, postgres: 1 },
    cpu_us_per_row_drain: { analytics: 4, postgres: 2 },
    drain_over_ceiling: 0.3,
    api_page_p99_ms: 6,
    api_page_fresh_p99_ms: 9,
    api_crowd_fresh_p99_ms: 140,
    crowd_lag_over_steady_p99: 1.5,
  });
  expect(formatRatios(results).join("\n")).toMatch(/ingest \/ COPY ceiling\s+0\.25/);
  expect(j.drain_floors).toMatchObject({
    deliver: { rows_per_s: 100_000, over_ceiling: 0.5 },
    ack: { rows_per_s: 80_000, over_ceiling: 0.4 },
    ingest: { rows_per_s: 75_000, over_ceiling: 0.375 },
  });
  expect(j.drain_over_ingest_floor).toBe(0.8);
  expect(j).toMatchObject({
    api_crowd_static_floor_p99_ms: 175,
    api_crowd_over_static_floor_p99: 0.8,
  });
});

test("the drain floors are printed beside the drain, with their ratios", () => {
  expect(formatThroughput(results).join("\n")).toMatch(/floor: \+ one \+ACK per message.*80,000/);
  const ratios = formatRatios(results).join("\n");
  expect(ratios).toMatch(/floor ack\s+\/ COPY ceiling\s+0\.40/);
  expect(ratios).toMatch(/drain \/ floor ingest\s+0\.80/);
  expect(formatTargets(results).join("\n")).toMatch(
    /one ack per message 0\.4 x ceiling, without acks 0\.5; the drain is 0\.8 x/,
  );
});

test("targets are stated as same-run ratios next to the absolute figures", () => {
  const t = formatTargets(results).join("\n");
  expect(t).toMatch(/drain \/ COPY ceiling >= 0\.5: 0\.3 — NOT met/);
  expect(t).toMatch(/with|under 200 API clients \/ without <= 2: 1\.5 — met/);
  expect(t).toMatch(/rows lost or doubled: none — met/);
  expect(t).toMatch(/limit=100 p99 <= 10 ms: 6\.0 ms served — met; 9\.0 ms fresh — met/);
  expect(t).toMatch(/200 concurrent clients p99 <= 150 ms: 140 ms — met/);
  expect(t).toMatch(/the same crowd on a static file 175 ms; pages \/ static file 0\.8/);
});

test("--repeat: worst and median per figure, targets judged on the worst run", () => {
  const worse = { ...results, drain: { ...results.drain!, rowsPerSec: 120_000 } };
  const lines = formatIngestRepeats([results, worse, worse]).join("\n");
  expect(lines).toMatch(/drain \/ COPY ceiling\s+worst 0\.30 \/ median 0\.60 over 3 runs.*MISSED/);
  const j = JSON.parse(ingestRepeatJson([results, worse, worse])) as Record<string, unknown>;
  expect(j.drain_over_ceiling).toEqual({ worst: 0.3, median: 0.6, all: [0.3, 0.6, 0.6] });
  expect(j.rows_lost_or_doubled).toEqual({ worst: 0, median: 0, all: [0, 0, 0] });
});
