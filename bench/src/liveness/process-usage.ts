import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";

/** Clock ticks per second of /proc times (USER_HZ, 100 on every Linux this runs on). */
const TICKS_PER_S = 100;

/** utime + stime of a process (all its threads), in seconds; undefined once it is gone. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The name may hold spaces and parentheses: the fields after it start past the last ')'.
    const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
    // proc(5) fields 14 and 15 (utime, stime), counted here from field 3 (state).
    return (Number(f[11]) + Number(f[12])) / TICKS_PER_S;
  } catch {
    return undefined;
  }
}

/** Busy CPU seconds of the whole machine (all cores, every process) from /proc/stat. */
export function machineBusySeconds(): number | undefined {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? "";
    // cpu user nice system idle iowait irq softirq steal guest guest_nice: busy = all but idle
    // and iowait (guest time is already in user).
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    const busy = f.slice(0, 8).reduce((a, x, i) => (i === 3 || i === 4 ? a : a + x), 0);
    return busy / TICKS_PER_S;
  } catch {
    return undefined;
  }
}

/** Resident set size now and at its peak (VmRSS, VmHWM from /proc/<pid>/status), MiB. */
export function residentMiB(pid: number): { rss: number; peak: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/status`, "utf8");
    const kib = (key: string): number =>
      Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(text)?.[1] ?? NaN);
    return { rss: kib("VmRSS") / 1024, peak: kib("VmHWM") / 1024 };
  } catch {
    return undefined;
  }
}

/** CPU and memory of one process over a measured window. */
export interface ProcessUsage {
  /** CPU seconds used in the window. */
  readonly cpuS: number;
  /** CPU seconds per wall second: 1.0 = one core busy all the time. */
  readonly cores: number;
  /** Largest VmRSS sampled in the window, MiB. */
  readonly rssMaxMiB: number;
  /** VmHWM at the end: the peak over the process's whole life (start-up included), MiB. */
  readonly rssPeakMiB: number;
}

/**
 * Samples named processes from /proc: CPU between `start` and `stop`, resident memory once a
 * second in between. Pids of this very process work too.
 */
export class UsageMeter {
  private readonly cpu0 = new Map<string, number>();
  private readonly rssMax = new Map<string, number>();
  private wall0 = 0;
  private machine0 = NaN;
  /** Cores the whole machine was busy over the last window (every process, ours included). */
  machineCores = NaN;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly pids: Readonly<Record<string, number>>) {}

  start(): void {
    this.wall0 = performance.now();
    this.machine0 = machineBusySeconds() ?? NaN;
    for (const [name, pid] of Object.entries(this.pids)) {
      this.cpu0.set(name, cpuSeconds(pid) ?? NaN);
    }
    this.sample();
    this.timer = setInterval(() => this.sample(), 1000);
    this.timer.unref();
  }

  /** Ends the window; a process gone meanwhile gets NaN figures. */
  stop(): Record<string, ProcessUsage> {
    clearInterval(this.timer);
    this.sample();
    const wallS = (performance.now() - this.wall0) / 1000;
    this.machineCores = ((machineBusySeconds() ?? NaN) - this.machine0) / wallS;
    const out: Record<string, ProcessUsage> = {};
    for (const [name, pid] of Object.entries(this.pids)) {
      const cpuS = (cpuSeconds(pid) ?? NaN) - (this.cpu0.get(name) ?? NaN);
      out[name] = {
        cpuS,
        cores: cpuS / wallS,
        rssMaxMiB: this.rssMax.get(name) ?? NaN,
        rssPeakMiB: residentMiB(pid)?.peak ?? NaN,
      };
    }
    return out;
  }

  private sample(): void {
    for (const [name, pid] of Object.entries(this.pids)) {
      const rss = residentMiB(pid)?.rss;
      if (rss !== undefined && Number.isFinite(rss) && rss > (this.rssMax.get(name) ?? -1)) {
        this.rssMax.set(name, rss);
      }
    }
  }
}
