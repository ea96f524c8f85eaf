import { execFile, spawn } from "node:child_process";
import { chownSync, closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { Client } from "pg";
import { getFreePort, loadStackEnv } from "@konorkestra/testkit";

const run = promisify(execFile);

/** A PostgreSQL server started with the local stack's settings (full durability). */
export interface DurablePostgres {
  readonly port: number;
  readonly pid: number;
  url(database?: string): string;
  /** Fast clean shutdown (SIGINT), then the data directory is removed. */
  stop(): Promise<void>;
}

/**
 * Why not testkit's startPostgresServer: it passes `fsync=off`, `synchronous_commit=off` and
 * `full_page_writes=off` on the command line, and command-line settings win over `ALTER SYSTEM`,
 * so no SQL can give that server realistic durability. This starts postgres exactly as
 * scripts/stack.sh does (the settings a user gets: PostgreSQL's defaults plus TimescaleDB), from
 * the same `.stack/stack.env`, in a scratch directory, with a watchdog that stops it if this
 * process dies without cleaning up.
 */
export async function startDurablePostgres(): Promise<DurablePostgres> {
  const env = loadStackEnv();
  const root = env.pgRoot;
  const ids = root ? userIds(root, env.pgUser) : undefined;
  const base = root ? join(root, "tmp") : "/tmp";
  const hostDir = mkdtempSync(join(base, "kon-bench-pg-"));
  if (ids) chownSync(hostDir, ids.uid, ids.gid);
  const serverDir = root ? hostDir.slice(root.length) : hostDir;
  const inRoot = (bin: string, args: string[]): [string, string[]] =>
    root && ids
      ? ["chroot", [`--userspec=${ids.uid}:${ids.gid}`, root, join(env.pgBin, bin), ...args]]
      : [join(env.pgBin, bin), args];
  const removeDir = (): void => rmSync(hostDir, { recursive: true, force: true });
  try {
    const data = join(serverDir, "data");
    const [initCmd, initArgs] = inRoot("initdb", [
      ...["-D", data, "-U", "kon", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"],
      ...["--no-sync", "--no-instructions"],
    ]);
    await run(initCmd, initArgs);
    const port = await getFreePort();
    // The flags of scripts/stack.sh, nothing else: fsync, synchronous_commit, full_page_writes,
    // shared_buffers and checkpoints stay at PostgreSQL's defaults.
    const [cmd, args] = inRoot("postgres", [
      ...["-D", data, "-p", String(port), "-c", "listen_addresses=127.0.0.1"],
      ...["-c", "unix_socket_directories=", "-c", "shared_preload_libraries=timescaledb"],
      ...["-c", "timescaledb.telemetry_level=off"],
    ]);
    const logFile = join(hostDir, "postgres.log");
    const fd = openSync(logFile, "a");
    const child = spawn(cmd, args, { stdio: ["ignore", fd, fd] });
    closeSync(fd);
    const pid = child.pid;
    if (pid === undefined) throw new Error(`cannot start postgres (${cmd})`);
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    const dog = watchdog(pid, hostDir);
    void exited.then(() => dog !== undefined && killQuietly(-dog, "SIGTERM"));
    const url = (db = "postgres"): string => `postgres://kon@127.0.0.1:${port}/${db}`;
    await waitReady(url(), logFile, () => child.exitCode !== null);
    return {
      port,
      pid,
      url,
      stop: async () => {
        if (child.exitCode === null) {
          killQuietly(pid, "SIGINT");
          const timer = setTimeout(() => killQuietly(pid, "SIGKILL"), 15_000);
          await exited;
          clearTimeout(timer);
        }
        removeDir();
      },
    };
  } catch (err) {
    removeDir();
    throw err;
  }
}

async function waitReady(url: string, logFile: string, dead: () => boolean): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const c = new Client({ connectionString: url });
    try {
      await c.connect();
      await c.query("SELECT 1");
      await c.end();
      return;
    } catch (err) {
      await c.end().catch(() => undefined);
      if (dead() || Date.now() > deadline) {
        const log = readFileSync(logFile, "utf8").trimEnd().split("\n").slice(-10).join("\n");
        throw new Error(`postgres did not start (${String(err)}); log:\n${log}`, { cause: err });
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/**
 * A detached `sh` loop that stops the server (SIGINT, then SIGKILL) and removes its directory
 * when this process dies first, as testkit's watchdog does for its servers.
 */
function watchdog(serverPid: number, dir: string): number | undefined {
  const script =
    'while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 0.2; done; ' +
    'kill -0 "$2" 2>/dev/null || exit 0; kill -s INT "$2" 2>/dev/null; i=0; ' +
    'while [ $i -lt 50 ] && kill -0 "$2" 2>/dev/null; do sleep 0.2; i=$((i+1)); done; ' +
    'kill -s KILL "$2" 2>/dev/null; sleep 0.2; rm -rf "$3"; exit 0';
  const dog = spawn(
    "sh",
    ["-c", script, "kon-bench-watchdog", String(process.pid), String(serverPid), dir],
    { detached: true, stdio: "ignore" },
  );
  dog.unref();
  return dog.pid;
}

function killQuietly(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** Numeric ids of `user` from the chroot's own passwd (the host may differ). */
function userIds(root: string, user: string): { uid: number; gid: number } {
  for (const line of readFileSync(join(root, "etc", "passwd"), "utf8").split("\n")) {
    const f = line.split(":");
    if (f[0] === user && f[2] !== undefined && f[3] !== undefined) {
      return { uid: Number(f[2]), gid: Number(f[3]) };
    }
  }
  throw new Error(`user '${user}' not found in ${join(root, "etc", "passwd")}`);
}
