import { chmodSync, chownSync, lstatSync, readFileSync, statSync, unlinkSync } from "node:fs";
import type { Server } from "node:http";
import { createConnection } from "node:net";
import { dirname } from "node:path";
import { CliError, ExitCode } from "../exit-codes";

/** Longest socket path Linux takes (sun_path is 108 bytes with its terminating NUL). */
const MAX_SOCKET_PATH_BYTES = 107;

/** Who may connect to the socket file. */
export interface SocketAccess {
  /** Permission bits of the socket file. @default 0o660 */
  readonly mode: number;
  /** Group that owns it (name or number); undefined keeps the agent's own group. */
  readonly group?: string;
}

/** A socket file this process bound, removed on close only while it is still the same file. */
export interface BoundSocket {
  readonly path: string;
  close(): Promise<void>;
}

/**
 * Listens on a Unix socket at `path`: a stale socket file (nobody answers on it) is removed
 * first; a live one (another agent) or a file that is not a socket is never touched. The socket
 * is created under a umask that lets no one else in, then given `mode` and `group`, so there is
 * no moment where it is open wider than asked.
 */
export async function listenUnix(
  server: Server,
  path: string,
  access: SocketAccess,
): Promise<BoundSocket> {
  const gid = access.group === undefined ? undefined : groupId(access.group);
  await claimSocketPath(path);
  const listening = new Promise<void>((resolve, reject) => {
    server.once("listening", resolve);
    server.once("error", reject);
  });
  const umask = process.umask(0o177);
  try {
    server.listen(path);
  } finally {
    process.umask(umask);
  }
  try {
    await listening;
  } catch (err) {
    throw new CliError(ExitCode.Failed, `cannot listen on ${path}: ${errText(err)}`, {
      where: dirname(path),
    });
  }
  const ino = statSync(path).ino;
  const bound: BoundSocket = {
    path,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        try {
          // Only our own file: another agent may have taken the path since.
          if (lstatSync(path).ino === ino) unlinkSync(path);
        } catch {
          // already gone
        }
      }),
  };
  try {
    chmodSync(path, access.mode);
    if (gid !== undefined) chownSync(path, -1, gid);
  } catch (err) {
    await bound.close();
    throw new CliError(
      ExitCode.Refused,
      `cannot give socket ${path} mode ${access.mode.toString(8)}${gid !== undefined ? ` and group ${access.group}` : ""}: ${errText(err)}`,
      { where: path, hint: "a socket group must be one the agent's user belongs to" },
    );
  }
  return bound;
}

/**
 * Fails early (before the agent connects anywhere) when `path` cannot be ours: too long, not a
 * socket, or another agent is live on it. A stale socket file is removed.
 */
export async function claimSocketPath(path: string): Promise<void> {
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) {
    throw usage(
      `socket path is ${Buffer.byteLength(path)} bytes; Unix sockets take at most ${MAX_SOCKET_PATH_BYTES}`,
      path,
    );
  }
  await removeStale(path);
}

/** Removes `path` only when it is a socket nobody listens on. */
async function removeStale(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw new CliError(ExitCode.Failed, `cannot inspect ${path}: ${errText(err)}`, { where: path });
  }
  if (!isSocket) {
    throw usage(`${path} exists and is not a socket; not removing it`, path);
  }
  const answer = await probe(path);
  if (answer === "live") {
    throw new CliError(
      ExitCode.Refused,
      `another process is listening on ${path} (a running kon agent?); not taking it over`,
      { where: path, hint: "stop that agent first, or give --socket another path" },
    );
  }
  if (answer !== "stale") {
    throw new CliError(ExitCode.Failed, `cannot check whether ${path} is in use: ${answer}`, {
      where: path,
    });
  }
  unlinkSync(path);
}

/** `live` when something accepts a connection, `stale` when nothing listens, else the error. */
function probe(path: string): Promise<string> {
  return new Promise((resolve) => {
    const sock = createConnection(path);
    sock.once("connect", () => {
      sock.destroy();
      resolve("live");
    });
    sock.once("error", (err: NodeJS.ErrnoException) => {
      resolve(err.code === "ECONNREFUSED" || err.code === "ENOENT" ? "stale" : errText(err));
    });
  });
}

/** A group name from /etc/group, or a numeric gid. */
function groupId(group: string): number {
  if (/^\d+$/.test(group)) return Number(group);
  let text = "";
  try {
    text = readFileSync("/etc/group", "utf8");
  } catch (err) {
    throw usage(`cannot read /etc/group to find group ${group}: ${errText(err)}`, "/etc/group");
  }
  for (const line of text.split("\n")) {
    const [name, , gid] = line.split(":");
    if (name === group && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  throw usage(`no group named ${JSON.stringify(group)} in /etc/group`, "--socket-group");
}

function usage(message: string, where: string): CliError {
  return new CliError(ExitCode.Usage, message, { where });
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
