import { hostname as osHostname, networkInterfaces } from "node:os";
import { KonError, KonErrorCode } from "./errors";
import { assertNodeId } from "./wire/names";

/**
 * The part of an `os.networkInterfaces()` address the node id reads. Declared here rather than
 * taken from `node:os` so that the SDK's public types compile without `@types/node`.
 */
export interface InterfaceAddress {
  mac: string;
  internal: boolean;
}

/** Interfaces as returned by `os.networkInterfaces()`. */
export type NetworkInterfaces = Readonly<Record<string, readonly InterfaceAddress[] | undefined>>;

/** How a node finds its id when none is given. */
export interface NodeIdOptions {
  /** An explicit id (KON_NODE_ID). Wins over everything else; must already be a valid token. */
  nodeId?: string;
  /**
   * `aws` asks the EC2 instance metadata service (IMDSv2) for the instance id and fails if it
   * cannot (a silently different id would split the node's history in two); `auto` never
   * contacts any metadata service. (KON_NODE_ID_SOURCE) @default "auto"
   */
  source?: "auto" | "aws";
  /** Metadata service base URL (KON_AWS_METADATA_URL). @default "http://169.254.169.254" */
  awsMetadataUrl?: string;
  /** Time allowed for both IMDSv2 requests together. @default 1000 */
  awsTimeoutMs?: number;
  /**
   * Appended as `-<suffix>` to any id (explicit, AWS instance id, MAC address or host name), so
   * that several processes of one host beat as distinct, stable nodes (`kon run` uses the config
   * key). 1–64 characters of `[A-Za-z0-9_=-]` ({@link NODE_ID_SUFFIX}) (KON_NODE_ID_SUFFIX).
   */
  suffix?: string;
  /**
   * Append `-<pid>` (to any id, explicit or derived, after the suffix) for several processes per
   * host (KON_NODE_ID_APPEND_PID). @default false
   */
  appendPid?: boolean;
  /** Interfaces to pick the MAC address from. @default os.networkInterfaces() */
  interfaces?: NetworkInterfaces;
  /** Host name used when no interface has a MAC address. @default os.hostname() */
  hostname?: string;
  /** Pid appended by `appendPid`. @default process.pid */
  pid?: number;
}

/** Where a node id came from, for logs and heartbeats. */
export type NodeIdSource = "explicit" | "aws" | "mac" | "hostname";

const DEFAULT_IMDS = "http://169.254.169.254";
const MAX_NODE_ID = 128;
/**
 * A node id suffix: one subject token like the id itself, and short enough that a derived id
 * keeps most of its own characters (it is truncated, the suffix never).
 */
export const NODE_ID_SUFFIX = /^[A-Za-z0-9_=-]{1,64}$/;
/** Why a suffix is refused, for the option reader and {@link resolveNodeId} alike. */
export const NODE_ID_SUFFIX_RULE =
  "use 1-64 of [A-Za-z0-9_=-] (it is appended to the node id as -<suffix>, one NATS subject token)";
/** IMDSv2 session token lifetime we ask for; we use it once, right away. */
const IMDS_TOKEN_TTL_S = "60";
/** EC2 instance ids (`i-0abc…`); anything else is a wrong endpoint answering. */
const INSTANCE_ID = /^i-[0-9a-zA-Z]{1,64}$/;
/**
 * Interfaces whose MAC addresses are made up by container runtimes, VPNs and hypervisors on the
 * host; they may change when the software is reinstalled, so a physical NIC is preferred.
 */
const VIRTUAL_IFACE =
  /^(docker|veth|br-|virbr|vmnet|vboxnet|cni|flannel|cali|weave|kube|tun|tap|wg|zt|tailscale|utun|lxc|lxdbr|podman|dummy)/;

/** Maps any string onto a valid node id token: anything but `[A-Za-z0-9_=-]` becomes `_`. */
export function toNodeIdToken(raw: string, maxLength = MAX_NODE_ID): string {
  return raw.replace(/[^A-Za-z0-9_=-]/g, "_").slice(0, maxLength);
}

async function awsInstanceId(base: string, timeoutMs: number): Promise<string> {
  const url = base.replace(/\/+$/, "");
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const tokenRes = await fetch(`${url}/latest/api/token`, {
      method: "PUT",
      headers: { "X-aws-ec2-metadata-token-ttl-seconds": IMDS_TOKEN_TTL_S },
      signal,
    });
    if (!tokenRes.ok) throw new Error(`token request answered HTTP ${tokenRes.status}`);
    const token = (await tokenRes.text()).trim();
    if (!token) throw new Error("token request answered an empty token");
    const idRes = await fetch(`${url}/latest/meta-data/instance-id`, {
      headers: { "X-aws-ec2-metadata-token": token },
      signal,
    });
    if (!idRes.ok) throw new Error(`instance-id request answered HTTP ${idRes.status}`);
    const id = (await idRes.text()).trim();
    if (!INSTANCE_ID.test(id)) {
      throw new Error(
        `instance-id answer ${JSON.stringify(id.slice(0, 80))} is not an instance id`,
      );
    }
    return id;
  } catch (err) {
    const why = describeFetchError(err, timeoutMs);
    throw new KonError(
      KonErrorCode.NodeIdUnavailable,
      `node id: KON_NODE_ID_SOURCE=aws but the instance metadata service at ${url} gave no instance id (${why}); set KON_NODE_ID, or KON_NODE_ID_SOURCE=auto to use the MAC address`,
      { cause: err },
    );
  }
}

/** fetch() hides the useful part (ECONNREFUSED, timeout) in `name` and `cause`. */
function describeFetchError(err: unknown, timeoutMs: number): string {
  // Not `instanceof`: the abort reason is a DOMException, possibly from another realm.
  const e = err as { name?: unknown; message?: unknown; cause?: { code?: unknown } } | undefined;
  if (e?.name === "TimeoutError") return `no answer within ${timeoutMs} ms`;
  const code = e?.cause?.code;
  if (typeof code === "string") return `connection failed: ${code}`;
  return typeof e?.message === "string" ? e.message : String(err);
}

/** The suffix, validated: a bad one is the caller's option, named with its variable. */
function checkedSuffix(suffix: string): string {
  if (NODE_ID_SUFFIX.test(suffix)) return suffix;
  throw new KonError(
    KonErrorCode.InvalidOptions,
    `invalid option nodeIdSuffix: ${JSON.stringify(suffix.slice(0, 80))} (given, or KON_NODE_ID_SUFFIX): ${NODE_ID_SUFFIX_RULE}`,
  );
}

const isUsableMac = (a: InterfaceAddress): boolean =>
  !a.internal && !!a.mac && a.mac !== "00:00:00:00:00:00";

/** Locally administered MACs (second-lowest bit of the first octet) are made up by software. */
const isLocallyAdministered = (mac: string): boolean =>
  (parseInt(mac.slice(0, 2), 16) & 0b10) !== 0;

/**
 * The MAC address of the first non-internal interface, as `02_42_ac_11_00_02`. Interfaces are
 * taken in name order, preferring physical ones (a NIC's burned-in address) over virtual
 * interfaces and locally administered addresses; a container whose only interface is virtual
 * still gets that one.
 */
export function firstMac(interfaces: NetworkInterfaces = networkInterfaces()): string | undefined {
  const candidates: { name: string; mac: string; rank: number }[] = [];
  for (const name of Object.keys(interfaces).sort()) {
    const addr = (interfaces[name] ?? []).find(isUsableMac);
    if (!addr) continue;
    const mac = addr.mac.toLowerCase();
    const rank = (VIRTUAL_IFACE.test(name) ? 2 : 0) + (isLocallyAdministered(mac) ? 1 : 0);
    candidates.push({ name, mac, rank });
  }
  // Stable sort: equal ranks keep name order.
  candidates.sort((a, b) => a.rank - b.rank);
  return candidates[0]?.mac.replace(/:/g, "_");
}

/**
 * The node id, by the seed's rule: explicit id, else the AWS instance id (only when enabled —
 * the default path never contacts a metadata service), else the first non-internal MAC
 * address, else the host name. Then `suffix` adds `-<suffix>` and `appendPid` adds `-<pid>`,
 * whatever the source, so several processes on one host get distinct ids.
 *
 * @throws {@link KonError} `NODE_ID_UNAVAILABLE` when `source` is `aws` and the metadata service
 *   does not answer with an instance id; `INVALID_NAME` for an explicit id that is not a token
 *   (or too long with its suffix); `INVALID_OPTIONS` for a bad suffix.
 */
export async function resolveNodeId(
  opts: NodeIdOptions = {},
): Promise<{ nodeId: string; source: NodeIdSource }> {
  const suffix =
    (opts.suffix !== undefined ? `-${checkedSuffix(opts.suffix)}` : "") +
    (opts.appendPid ? `-${opts.pid ?? process.pid}` : "");
  if (opts.nodeId) {
    // An explicit id is the operator's choice: validate it, never rewrite it.
    return { nodeId: assertNodeId(opts.nodeId + suffix), source: "explicit" };
  }
  let id: string;
  let source: NodeIdSource;
  if (opts.source === "aws") {
    id = await awsInstanceId(opts.awsMetadataUrl ?? DEFAULT_IMDS, opts.awsTimeoutMs ?? 1000);
    source = "aws";
  } else {
    const mac = firstMac(opts.interfaces);
    id = mac ?? opts.hostname ?? osHostname();
    source = mac ? "mac" : "hostname";
  }
  // Truncate the derived part, never the suffix or pid, so processes on one host stay distinct.
  const base = toNodeIdToken(id, MAX_NODE_ID - suffix.length) || "node";
  return { nodeId: assertNodeId(base + suffix), source };
}
