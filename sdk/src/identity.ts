import { hostname, networkInterfaces } from "node:os";
import { KonError, KonErrorCode } from "./errors";
import { assertNodeId } from "./names";

/** How a node finds its id when none is given. */
export interface NodeIdOptions {
  /** An explicit id (KON_NODE_ID). Wins over everything else. */
  nodeId?: string;
  /**
   * `aws` asks the EC2 instance metadata service (IMDSv2) for the instance id; `auto` never
   * contacts it. (KON_NODE_ID_SOURCE) @default "auto"
   */
  source?: "auto" | "aws";
  /** Metadata service base URL (KON_AWS_METADATA_URL). @default "http://169.254.169.254" */
  awsMetadataUrl?: string;
  /** @default 1000 */
  awsTimeoutMs?: number;
  /** Append `-<pid>` for several processes per host (KON_NODE_ID_APPEND_PID). @default false */
  appendPid?: boolean;
}

/** Where a node id came from, for logs and heartbeats. */
export type NodeIdSource = "explicit" | "aws" | "mac" | "hostname";

const DEFAULT_IMDS = "http://169.254.169.254";

/** Maps any string onto a valid node id token: anything but `[A-Za-z0-9_=-]` becomes `_`. */
export function toNodeIdToken(raw: string): string {
  return raw.replace(/[^A-Za-z0-9_=-]/g, "_").slice(0, 128);
}

async function awsInstanceId(base: string, timeoutMs: number): Promise<string> {
  const signal = AbortSignal.timeout(timeoutMs);
  const url = base.replace(/\/$/, "");
  try {
    const tokenRes = await fetch(`${url}/latest/api/token`, {
      method: "PUT",
      headers: { "X-aws-ec2-metadata-token-ttl-seconds": "60" },
      signal,
    });
    if (!tokenRes.ok) throw new Error(`token request answered ${tokenRes.status}`);
    const token = await tokenRes.text();
    const idRes = await fetch(`${url}/latest/meta-data/instance-id`, {
      headers: { "X-aws-ec2-metadata-token": token },
      signal,
    });
    if (!idRes.ok) throw new Error(`instance-id request answered ${idRes.status}`);
    const id = (await idRes.text()).trim();
    if (!id) throw new Error("empty instance id");
    return id;
  } catch (err) {
    throw new KonError(
      KonErrorCode.InvalidOptions,
      `node id: AWS metadata at ${url} unavailable: ${String(err)}`,
      {
        cause: err,
      },
    );
  }
}

/** The first non-internal interface with a real MAC address, as `02_42_ac_11_00_02`. */
export function firstMac(): string | undefined {
  const ifaces = networkInterfaces();
  for (const name of Object.keys(ifaces).sort()) {
    for (const addr of ifaces[name] ?? []) {
      if (!addr.internal && addr.mac && addr.mac !== "00:00:00:00:00:00")
        return addr.mac.replace(/:/g, "_");
    }
  }
  return undefined;
}

/**
 * The node id, by the seed's rule: explicit id, else the AWS instance id (only when enabled),
 * else the first non-internal MAC address, else the host name.
 */
export async function resolveNodeId(
  opts: NodeIdOptions = {},
): Promise<{ nodeId: string; source: NodeIdSource }> {
  let id: string;
  let source: NodeIdSource;
  if (opts.nodeId) {
    id = opts.nodeId;
    source = "explicit";
  } else if (opts.source === "aws") {
    id = await awsInstanceId(opts.awsMetadataUrl ?? DEFAULT_IMDS, opts.awsTimeoutMs ?? 1000);
    source = "aws";
  } else {
    const mac = firstMac();
    id = mac ?? toNodeIdToken(hostname());
    source = mac ? "mac" : "hostname";
  }
  if (opts.appendPid) id = `${id}-${process.pid}`;
  return { nodeId: assertNodeId(source === "explicit" ? id : toNodeIdToken(id)), source };
}
