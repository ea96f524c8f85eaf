import { readFileSync } from "node:fs";
import { arch, cpus, loadavg, platform, release, totalmem } from "node:os";

/** The facts a benchmark prints so that its figures can be compared with another run. */
export interface MachineInfo {
  readonly cpuModel: string;
  /** Logical cores as Node sees them (what a 2-core target means). */
  readonly cores: number;
  readonly memoryGiB: number;
  /** Distribution name when known (`/etc/os-release`), else the platform. */
  readonly os: string;
  readonly kernel: string;
  readonly arch: string;
  readonly node: string;
  /** 1, 5 and 15 minute load averages when the run started: a busy machine shows here. */
  readonly loadAverage: readonly [number, number, number];
  /** Server name → version, as the running servers reported it. */
  readonly servers: Readonly<Record<string, string>>;
}

/** The command that produced a run, in the form to paste to run it again. */
export interface CommandLine {
  /** `npm run <script> -- <args>` when started through npm, else undefined. */
  readonly npm: string | undefined;
  /** The node command line as the process saw it (relative to the working directory). */
  readonly node: string;
}

/** Reads this machine's facts; `servers` are the versions the benchmark's servers reported. */
export function collectMachineInfo(servers: Record<string, string> = {}): MachineInfo {
  const cpuList = cpus();
  const [l1 = 0, l5 = 0, l15 = 0] = loadavg();
  return {
    cpuModel: cpuList[0]?.model.trim() ?? "unknown",
    cores: cpuList.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: distribution() ?? platform(),
    kernel: release(),
    arch: arch(),
    node: process.version,
    loadAverage: [round2(l1), round2(l5), round2(l15)],
    servers: { ...servers },
  };
}

/** Human-readable lines, one fact each, for the head of a benchmark's output. */
export function formatMachineInfo(info: MachineInfo): string[] {
  const servers = Object.entries(info.servers)
    .map(([name, version]) => `${name} ${version}`)
    .join(", ");
  return [
    `machine: ${info.cpuModel}, ${info.cores} cores, ${info.memoryGiB} GiB RAM`,
    `os:      ${info.os} (kernel ${info.kernel}, ${info.arch})`,
    `node:    ${info.node}`,
    `load:    ${info.loadAverage.join(" / ")} (1 / 5 / 15 min, at start)`,
    `servers: ${servers || "none"}`,
  ];
}

/**
 * The command line of this process. Through npm (`npm run x -- --flag`) npm's own variables say
 * which script ran; the arguments are what the script received after its fixed part.
 */
export function commandLine(
  argv: readonly string[] = process.argv,
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): CommandLine {
  const args = argv.slice(2).map(quote);
  const rel = (p: string): string => (p.startsWith(cwd + "/") ? p.slice(cwd.length + 1) : p);
  const entry = argv.slice(1, 2).map(rel);
  // A .ts entry ran through testkit's runner, which removes itself from argv.
  const runner = entry[0]?.endsWith(".ts") ? ["testkit/src/run-ts.cjs"] : [];
  const node = ["node", ...runner, ...entry, ...args].join(" ");
  const script = env.npm_lifecycle_event;
  const npm =
    script && env.npm_lifecycle_script
      ? `npm run ${script}${args.length > 0 ? " -- " + args.join(" ") : ""}`
      : undefined;
  return { npm, node };
}

function distribution(): string | undefined {
  try {
    const text = readFileSync("/etc/os-release", "utf8");
    const m = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(text);
    return m?.[1];
  } catch {
    return undefined;
  }
}

function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
