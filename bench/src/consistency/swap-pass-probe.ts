import { PerformanceObserver, constants } from "node:perf_hooks";
import type { PerformanceEntry } from "node:perf_hooks";

const ORIGIN = performance.timeOrigin;
const now = (): number => ORIGIN + performance.now();

/** GC entries kept (newest); a run of 30 rounds sees a few hundred. */
const MAX_GC = 20_000;

interface GcPause {
  /** Epoch ms (fractional). */
  readonly start: number;
  readonly end: number;
  readonly kind: number;
}

/** What one scheduled round's spread (first to last handle's swap) was made of. */
export interface SwapBreakdown {
  readonly spreadMs: number;
  /** First swap minus the instant (server clock, on this host: timer lateness plus first apply). */
  readonly lateMs: number;
  /** First to last swap done in the event-loop turn of the first (its task, microtasks, I/O). */
  readonly passMs: number;
  /** Handles swapped after that turn (a hub busy with earlier work). */
  readonly outsidePass: number;
  /** Process CPU (all threads) from the first to the last swap. */
  readonly cpuMs: number;
  /** Epoch ms of the first and the last swap. */
  readonly firstAt: number;
  readonly lastAt: number;
  /** GC pauses overlapping the spread: count, total ms, kinds (see {@link SwapPassProbe.withGc}). */
  readonly gcCount: number;
  readonly gcMs: number;
  readonly gcKinds: string;
}

/**
 * Instruments one scheduled round from inside the handles' onChange: the process CPU between the
 * first and the last swap, the end of the event-loop turn the first swap ran in (a setImmediate
 * queued by the first swap), and, from a process-wide `gc` observer, the GC pauses that overlap
 * the spread. Costs two `process.cpuUsage()` calls per round (~15 µs each, the first one inside
 * the spread), nothing else per swap.
 */
export class SwapPassProbe {
  private readonly gc: GcPause[] = [];
  private readonly observer: PerformanceObserver;
  private round:
    | { at: number; first: number; cpu0: NodeJS.CpuUsage; passEnd: number; inPassLast: number }
    | undefined;
  private cpuMs = 0;

  constructor() {
    this.observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) this.keep(e);
    });
    this.observer.observe({ entryTypes: ["gc"] });
  }

  /**
   * A round for the instant `activateAtMs` (ms since the epoch by `Date.now()`) begins. Swap
   * times are taken on the monotonic clock (timeOrigin + performance.now()), which drifts from
   * the wall clock over a long process: the instant is moved onto it here.
   */
  arm(activateAtMs: number): void {
    let wallMinusMono = 0;
    for (let i = 0; i < 5; i++) wallMinusMono += Date.now() - now();
    this.round = {
      at: activateAtMs - wallMinusMono / 5,
      first: 0,
      cpu0: { user: 0, system: 0 },
      passEnd: 0,
      inPassLast: 0,
    };
  }

  /** Called at each swap with its time; `last` on the round's final one. */
  seen(at: number, count: number, last: boolean): void {
    const r = this.round;
    if (!r) return;
    if (count === 1) {
      r.first = at;
      r.cpu0 = process.cpuUsage();
      setImmediate(() => (r.passEnd = now()));
    }
    if (r.passEnd === 0) r.inPassLast = at;
    if (!last) return;
    const cpu = process.cpuUsage(r.cpu0);
    this.cpuMs = (cpu.user + cpu.system) / 1000;
  }

  /**
   * The breakdown of the round just settled, given every handle's swap time. GC fields are 0:
   * the observer is told of a pause some ticks after it, so add them later with {@link withGc}.
   */
  settle(times: readonly number[]): SwapBreakdown {
    const r = this.round;
    this.round = undefined;
    if (!r) throw new Error("SwapPassProbe.settle without arm");
    const passEnd = r.passEnd || Number.POSITIVE_INFINITY;
    const first = Math.min(...times);
    const lastAt = Math.max(...times);
    return {
      spreadMs: lastAt - first,
      lateMs: first - r.at,
      passMs: r.inPassLast - r.first,
      outsidePass: times.filter((t) => t > passEnd).length,
      cpuMs: this.cpuMs,
      firstAt: first,
      lastAt,
      gcCount: 0,
      gcMs: 0,
      gcKinds: "",
    };
  }

  /** `b` with the GC pauses (main thread) that overlap its spread. */
  withGc(b: SwapBreakdown): SwapBreakdown {
    const { firstAt, lastAt } = b;
    const g = this.gc.filter((x) => x.end > firstAt && x.start < lastAt);
    return {
      ...b,
      gcCount: g.length,
      gcMs: g.reduce((s, x) => s + (Math.min(x.end, lastAt) - Math.max(x.start, firstAt)), 0),
      gcKinds: [...new Set(g.map((x) => gcKind(x.kind)))].join("+"),
    };
  }

  /** GC pauses of the main thread between two epoch instants: count, total and longest ms. */
  gcIn(from: number, to: number): { count: number; ms: number; longest: string } {
    const g = this.gc.filter((x) => x.start >= from && x.start < to);
    const top = g.reduce<GcPause | undefined>(
      (m, x) => (!m || x.end - x.start > m.end - m.start ? x : m),
      undefined,
    );
    return {
      count: g.length,
      ms: g.reduce((s, x) => s + (x.end - x.start), 0),
      longest: top ? `${(top.end - top.start).toFixed(2)} ms ${gcKind(top.kind)}` : "none",
    };
  }

  stop(): void {
    this.observer.disconnect();
  }

  private keep(e: PerformanceEntry): void {
    const start = ORIGIN + e.startTime;
    const kind = (e as { detail?: { kind?: number } }).detail?.kind ?? 0;
    this.gc.push({ start, end: start + e.duration, kind });
    if (this.gc.length > MAX_GC) this.gc.splice(0, this.gc.length - MAX_GC);
  }
}

function gcKind(kind: number): string {
  switch (kind) {
    case constants.NODE_PERFORMANCE_GC_MINOR:
      return "scavenge";
    case constants.NODE_PERFORMANCE_GC_MAJOR:
      return "mark-compact";
    case constants.NODE_PERFORMANCE_GC_INCREMENTAL:
      return "incremental";
    case constants.NODE_PERFORMANCE_GC_WEAKCB:
      return "weak-callbacks";
    default:
      return `kind-${kind}`;
  }
}

const pct = (xs: readonly number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil((p / 100) * s.length) - 1)] ?? Number.NaN;
};
const f2 = (x: number): string => x.toFixed(2);

/**
 * Lines saying what the spread of a run's scheduled rounds was made of: the synchronous swap pass
 * (and the process CPU in it), swaps outside it, GC pauses inside the spread, and the worst rounds
 * one by one.
 */
export function describeSpread(rounds: readonly SwapBreakdown[], worst = 3): string[] {
  if (rounds.length === 0) return [];
  const col = (k: keyof SwapBreakdown): number[] => rounds.map((r) => Number(r[k]));
  const withGc = rounds.filter((r) => r.gcCount > 0);
  const outside = rounds.filter((r) => r.outsidePass > 0);
  const lines = [
    `  spread: swap pass p50 ${f2(pct(col("passMs"), 50))} / max ${f2(pct(col("passMs"), 100))} ms, process CPU first→last swap p50 ${f2(pct(col("cpuMs"), 50))} / max ${f2(pct(col("cpuMs"), 100))} ms; first swap after the instant p50 ${f2(pct(col("lateMs"), 50))} / max ${f2(pct(col("lateMs"), 100))} ms; GC inside the spread in ${withGc.length} of ${rounds.length} rounds (${f2(withGc.reduce((s, r) => s + r.gcMs, 0))} ms); swaps outside the pass in ${outside.length} rounds`,
  ];
  const top = [...rounds].sort((a, b) => b.spreadMs - a.spreadMs).slice(0, worst);
  for (const r of top) {
    lines.push(
      `    round spread ${f2(r.spreadMs)} ms: pass ${f2(r.passMs)} ms, ${r.outsidePass} swaps after it, CPU ${f2(r.cpuMs)} ms, GC ${r.gcCount > 0 ? `${r.gcCount}× ${f2(r.gcMs)} ms (${r.gcKinds})` : "none"}, first swap +${f2(r.lateMs)} ms`,
    );
  }
  return lines;
}
