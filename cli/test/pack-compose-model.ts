// docker-compose.yml, the Dockerfile and scripts/stack.sh read as data for pack-compose.test.ts.
import { readFileSync } from "node:fs";
import { join, posix } from "node:path";
import { parse } from "yaml";

export const ROOT = join(__dirname, "..", "..");

export interface Service {
  image?: string;
  build?: { context: string; dockerfile?: string } | string;
  command?: string[];
  user?: string;
  restart?: string;
  profiles?: string[];
  environment?: Record<string, string>;
  ports?: (string | { host_ip?: string; published?: string; target?: number })[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }> | string[];
  healthcheck?: { test: string[] };
}

export interface Compose {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

/** docker-compose.yml with its `<<` merge keys applied, as Compose reads it. */
export function loadCompose(): Compose {
  return parse(readFileSync(join(ROOT, "docker-compose.yml"), "utf8"), { merge: true }) as Compose;
}

/** `${NAME:-default}` → default (what Compose uses when NAME is unset). */
export const withDefaults = (s: string): string => s.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, "$1");

export interface Mount {
  source: string;
  target: string;
  readOnly: boolean;
  /** A named volume (declared under `volumes:`), else a bind mount of a host path. */
  named: boolean;
}

export function mounts(s: Service): Mount[] {
  return (s.volumes ?? []).map((v) => {
    const [source = "", target = "", mode] = withDefaults(v).split(":");
    return { source, target, readOnly: mode === "ro", named: !/^[./]/.test(source) };
  });
}

/** The mount a path inside the container lives on (the longest target that contains it). */
export function mountOf(s: Service, path: string): Mount | undefined {
  return mounts(s)
    .filter((m) => path === m.target || path.startsWith(m.target + "/"))
    .sort((a, b) => b.target.length - a.target.length)[0];
}

export const isOneShot = (s: Service): boolean => s.restart === "no";

export function dependsOn(s: Service): Record<string, string> {
  const d = s.depends_on ?? {};
  if (Array.isArray(d)) return Object.fromEntries(d.map((n) => [n, "service_started"]));
  return Object.fromEntries(Object.entries(d).map(([n, c]) => [n, c.condition]));
}

/** A cycle in the depends_on graph, as the list of services on it, or undefined. */
export function findCycle(c: Compose): string[] | undefined {
  const state = new Map<string, "open" | "done">();
  const visit = (name: string, path: string[]): string[] | undefined => {
    if (state.get(name) === "done") return undefined;
    if (state.get(name) === "open") return [...path.slice(path.indexOf(name)), name];
    state.set(name, "open");
    for (const dep of Object.keys(dependsOn(c.services[name] ?? {}))) {
      const cycle = visit(dep, [...path, name]);
      if (cycle) return cycle;
    }
    state.set(name, "done");
    return undefined;
  };
  for (const name of Object.keys(c.services)) {
    const cycle = visit(name, []);
    if (cycle) return cycle;
  }
  return undefined;
}

/**
 * The KON_* variables scripts/stack.sh gives each project service in local mode (start_service):
 * the ones every service gets, the branch of its name, and the nkey seed of a system role.
 */
export function stackShEnv(): Record<string, string[]> {
  const sh = readFileSync(join(ROOT, "scripts", "stack.sh"), "utf8");
  const body = /^start_service\(\) \{([\s\S]*?)^\}/m.exec(sh)?.[1];
  if (!body) throw new Error("scripts/stack.sh: start_service() not found");
  const names = (text: string): string[] =>
    [...text.matchAll(/\b(KON_[A-Z0-9_]+)=/g)].map((m) => m[1]!);
  const common = names(/local -a env=\(([\s\S]*?)\)/.exec(body)?.[1] ?? "");
  const caseBody = /case "\$name" in([\s\S]*?)\besac\b/.exec(body)?.[1] ?? "";
  const result: Record<string, string[]> = {};
  for (const branch of caseBody.split(/;;/)) {
    const label = /^\s*([a-z0-9*|-]+)\)/.exec(branch)?.[1];
    if (!label) continue;
    const role = /\brole=/.test(branch) ? ["KON_NKEY_SEED_FILE"] : [];
    result[label] = [...common, ...names(branch), ...role];
  }
  return result;
}

/** The Dockerfile's instructions, one per logical line (continuations joined). */
export function dockerfileLines(): string[] {
  return readFileSync(join(ROOT, "Dockerfile"), "utf8")
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
}

/** Instructions of each stage, by stage name (`AS name`; the last, unnamed one is "final"). */
export function dockerStages(): Map<string, string[]> {
  const stages = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of dockerfileLines()) {
    const from = /^FROM\s+\S+(?:\s+AS\s+(\S+))?/i.exec(line);
    if (from) {
      current = [line];
      stages.set(from[1] ?? "final", current);
    } else current?.push(line);
  }
  return stages;
}

export const containerPath = (p: string): string => posix.normalize(p);
