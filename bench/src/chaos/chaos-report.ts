import type { ConfigTally, DownTally, RowTally } from "./chaos-tally";

/** One line of the final table: what was checked, over how much, and how often it failed. */
export interface ChaosCheck {
  readonly area: string;
  readonly check: string;
  /** What was judged, in words with its count (e.g. `24 (node, key) pairs`). */
  readonly checked: string;
  readonly failures: number;
}

/** What one drill did, for the table of drills. */
export interface DrillRecord {
  readonly drill: string;
  /** Time from the kill to the restart call. */
  readonly downMs: number;
  /** Time from the restart call until every service answered healthy again. */
  readonly recoveryMs: number;
  /** Simulated nodes killed around this drill. */
  readonly nodesKilled: number;
  /** Config edits saved between the kill and the recovery. */
  readonly editsDuring: number;
}

export function configChecks(t: ConfigTally, nodes: number, keys: number): ChaosCheck[] {
  return [
    {
      area: "config",
      check: "lost: a node (or the bucket) not on the last saved content",
      checked: `${t.pairs} (node, key) pairs (${nodes} nodes + bucket, ${keys} keys)`,
      failures: t.lost,
    },
    {
      area: "config",
      check: "regressed: a node went back to an older revision or content",
      checked: `${t.observed} values made current`,
      failures: t.regressed,
    },
  ];
}

export function downChecks(t: DownTally): ChaosCheck[] {
  return [
    {
      area: "liveness",
      check: "missed downs: a killed node without a node.down",
      checked: `${t.killed} killed nodes`,
      failures: t.missed,
    },
    {
      area: "liveness",
      check: "doubled downs: more than one node.down for a killed node",
      checked: `${t.downs} node.down events`,
      failures: t.doubled,
    },
    {
      area: "liveness",
      check: "invented downs: a node.down of a beating node",
      checked: `${t.live} live nodes (and killed ones before their kill)`,
      failures: t.invented,
    },
  ];
}

/** Three lines per table: lost, doubled, and rows that match no message. */
export function rowChecks(table: string, stream: string, t: RowTally): ChaosCheck[] {
  const area = "analytics";
  return [
    {
      area,
      check: `lost rows: ${stream} message with no ${table} row`,
      checked: `${t.messages} messages`,
      failures: t.lost,
    },
    {
      area,
      check: `doubled rows: more than one ${table} row per message`,
      checked: `${t.rows} rows`,
      failures: t.doubled,
    },
    {
      area,
      check: `stray rows: ${table} row that matches no ${stream} message`,
      checked: `${t.rows} rows`,
      failures: t.unmatched,
    },
  ];
}

const pad = (s: string, n: number): string => s + " ".repeat(Math.max(0, n - s.length));

/** A plain-text table (also valid Markdown) of the checks, with a HELD / FAILED column. */
export function formatChaosTable(checks: readonly ChaosCheck[]): string[] {
  const head = ["area", "check", "checked", "failures", "result"];
  const body = checks.map((c) => [
    c.area,
    c.check,
    c.checked,
    String(c.failures),
    c.failures === 0 ? "held" : "FAILED",
  ]);
  return markdownTable(head, body);
}

export function formatDrillTable(drills: readonly DrillRecord[]): string[] {
  const s = (ms: number): string => (ms / 1000).toFixed(1);
  return markdownTable(
    ["drill", "down (s)", "recovery (s)", "nodes killed", "edits saved meanwhile"],
    drills.map((d) => [
      d.drill,
      s(d.downMs),
      s(d.recoveryMs),
      String(d.nodesKilled),
      String(d.editsDuring),
    ]),
  );
}

function markdownTable(head: readonly string[], body: readonly string[][]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((c, i) => pad(c, widths[i]!)).join(" | ")} |`;
  return [line(head), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...body.map(line)];
}

/** 0 only when every count of failures is zero (and something was checked). */
export function chaosExitCode(checks: readonly ChaosCheck[]): number {
  if (checks.length === 0) return 1;
  return checks.some((c) => c.failures !== 0) ? 1 : 0;
}
