import { readFileSync, readdirSync } from "node:fs";

/** Clock ticks per second of /proc times (USER_HZ; 100 on every Linux this runs on). */
const TICKS = 100;

interface Stat {
  ppid: number;
  /** utime + stime, seconds. */
  own: number;
  /** cutime + cstime of reaped children, seconds. */
  reaped: number;
}

function readStat(pid: number): Stat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
    const n = (i: number): number => Number(f[i] ?? 0);
    // Fields 4, 14-17 of proc(5), shifted by the two before the name.
    return { ppid: n(1), own: (n(11) + n(12)) / TICKS, reaped: (n(13) + n(14)) / TICKS };
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds used so far by a process and all its descendants (PostgreSQL's backends are
 * children of the postmaster): live ones from their own times, exited ones from the reaped-child
 * times of their parents.
 */
export function treeCpuSeconds(rootPid: number): number {
  const children = new Map<number, number[]>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const s = readStat(Number(name));
    if (!s) continue;
    const list = children.get(s.ppid) ?? [];
    list.push(Number(name));
    children.set(s.ppid, list);
  }
  let total = 0;
  const stack = [rootPid];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    const s = readStat(pid);
    if (!s) continue;
    total += s.own + s.reaped;
    stack.push(...(children.get(pid) ?? []));
  }
  return total;
}

/** Resident set size and its peak (VmRSS, VmHWM) of one process, in MiB. */
export function memoryMiB(pid: number): { rss: number; peak: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (key: string): number =>
      Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(text)?.[1]);
    return { rss: Math.round(kb("VmRSS") / 1024), peak: Math.round(kb("VmHWM") / 1024) };
  } catch {
    return undefined;
  }
}

/** Named processes whose CPU is compared over a phase. */
export type CpuSources = Readonly<Record<string, number>>;

/** CPU seconds per source between two snapshots, and cores used (CPU seconds / wall seconds). */
export interface CpuUse {
  readonly seconds: Readonly<Record<string, number>>;
  readonly cores: Readonly<Record<string, number>>;
}

/** Starts measuring; call the returned function at the end of the phase. */
export function measureCpu(sources: CpuSources): () => CpuUse {
  const wall0 = performance.now();
  const before = snapshot(sources);
  return () => {
    const wall = (performance.now() - wall0) / 1000;
    const after = snapshot(sources);
    const seconds: Record<string, number> = {};
    const cores: Record<string, number> = {};
    for (const name of Object.keys(sources)) {
      const s = (after[name] ?? 0) - (before[name] ?? 0);
      seconds[name] = Math.round(s * 100) / 100;
      cores[name] = Math.round((s / wall) * 100) / 100;
    }
    return { seconds, cores };
  };
}

function snapshot(sources: CpuSources): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, pid] of Object.entries(sources)) {
    out[name] =
      pid === process.pid
        ? (process.cpuUsage().user + process.cpuUsage().system) / 1e6
        : treeCpuSeconds(pid);
  }
  return out;
}
