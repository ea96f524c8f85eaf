import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync, readlinkSync } from "node:fs";

/** Stops the PostgreSQL server that the global setup started. */
export default async function globalTeardown(): Promise<void> {
  const server = globalThis.__konPostgres;
  if (server) {
    globalThis.__konPostgres = undefined;
    delete process.env.KON_TEST_PG_URL;
    await server.stop();
  }
  reportWhatKeepsJestAlive();
}

/**
 * Jest's main process runs this teardown after its workers have exited; nothing of ours should
 * be left in it. When it is still alive 2.5 s later (Jest itself only says "Jest did not exit one
 * second after the test run has completed"), this names what holds it: each handle with its pid,
 * command, fd or peer. The timer is unref'd, so it never keeps the process alive by itself.
 */
function reportWhatKeepsJestAlive(delayMs = 2500): void {
  setTimeout(() => {
    const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
    // A pipe is named by the child it belongs to: a Jest worker's stdout still open after the
    // worker exited means a process the worker started holds it.
    const owners = new Map<unknown, string>();
    for (const h of handles) {
      const c = h as { constructor?: { name?: string }; stdio?: unknown[]; pid?: number };
      if (c.constructor?.name !== "ChildProcess") continue;
      (c.stdio ?? []).forEach((s, i) => s && owners.set(s, `fd ${i} of child pid ${c.pid}`));
    }
    const lines = handles
      .map((h) => describeHandle(h, owners.get(h)))
      .filter((l): l is string => l !== undefined);
    if (lines.length === 0) return;
    process.stderr.write(
      `testkit: jest's main process is still alive ${delayMs} ms after the global teardown; ` +
        `it holds:\n${lines.map((l) => `  - ${l}`).join("\n")}\n` +
        `  (resources: ${process.getActiveResourcesInfo().join(", ")})\n`,
    );
  }, delayMs).unref();
}

/** One line about a libuv handle: the child, socket, pipe or timer and whose it is. */
function describeHandle(h: unknown, owner: string | undefined): string | undefined {
  const o = h as Record<string, unknown> & { constructor?: { name?: string } };
  const kind = o.constructor?.name ?? typeof h;
  if (h === process.stdout || h === process.stderr || h === process.stdin) return undefined;
  if (kind === "ChildProcess") {
    const args = (o.spawnargs as string[] | undefined)?.join(" ") ?? "";
    return `child process pid ${String(o.pid)}: ${args.slice(0, 200)}`;
  }
  if (kind === "Socket" || kind === "Pipe" || kind === "Server") {
    const inner = o._handle as { constructor?: { name?: string }; fd?: number } | undefined;
    const peer =
      typeof o.remoteAddress === "string" ? ` peer ${o.remoteAddress}:${String(o.remotePort)}` : "";
    const holders = inner?.fd !== undefined && inner.fd >= 0 ? pipeHolders(inner.fd) : "";
    const of = (owner ? `, ${owner}` : "") + holders;
    return `${kind} (${inner?.constructor?.name ?? "?"}, fd ${String(inner?.fd)}${of})${peer}`;
  }
  if (kind === "Timeout") {
    const fn = o._onTimeout as { name?: string; toString(): string } | undefined;
    const body = fn?.toString().replace(/\s+/g, " ").slice(0, 160) ?? "";
    return `timer of ${String(o._idleTimeout)} ms: ${fn?.name || "anonymous"} ${body}`;
  }
  return kind;
}

/**
 * Other processes holding the far end of our `fd` (Linux): ", far end held by sleep pid 123".
 * Node gives a child's stdio as a socket pair; it stays open while any process holds the other
 * end, so a grandchild that inherited a Jest worker's stdout keeps Jest's main process reading
 * after the worker is gone. `ss -xp` names the peer of a unix socket; a pipe is looked up in /proc.
 */
function pipeHolders(fd: number): string {
  try {
    const m = /^(socket|pipe):\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
    if (!m) return "";
    const found: string[] = [];
    if (m[1] === "socket") {
      const ss = execFileSync("ss", ["-xpH"], { encoding: "utf8", timeout: 5000 });
      for (const line of ss.split("\n")) {
        const f = line.trim().split(/\s+/);
        if (f[7] === m[2]) found.push(f.slice(8).join(" ") || "(a process not ours to see)");
      }
    } else {
      for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
        if (Number(pid) === process.pid) continue;
        try {
          const fds = readdirSync(`/proc/${pid}/fd`);
          if (!fds.some((f) => readlinkSync(`/proc/${pid}/fd/${f}`) === `pipe:[${m[2]}]`)) continue;
          const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
          found.push(`pid ${pid} (${cmd.trim().slice(0, 160)})`);
        } catch {
          // gone, or not ours to read
        }
      }
    }
    return found.length > 0 ? `, far end held by ${found.join("; ")}` : "";
  } catch {
    return "";
  }
}
