import { connect as tcpConnect } from "node:net";

/** What a NATS server says about itself before any credential is sent. */
export interface NatsInfo {
  url: string;
  ok: boolean;
  version?: string;
  serverName?: string;
  jetstream?: boolean;
  tlsRequired?: boolean;
  error?: string;
}

/**
 * Opens a TCP connection and reads the server's `INFO` line, which NATS sends in clear before
 * the TLS handshake and before any credential: enough to say it is up and which version runs,
 * without logging in.
 */
export function probeNats(url: string, timeoutMs = 3000): Promise<NatsInfo> {
  let host: string;
  let port: number;
  try {
    const u = new URL(url.includes("://") ? url : `nats://${url}`);
    host = u.hostname;
    port = Number(u.port || 4222);
  } catch {
    return Promise.resolve({ url, ok: false, error: "not a URL" });
  }
  return new Promise<NatsInfo>((resolve) => {
    const sock = tcpConnect({ host, port });
    let buf = "";
    const finish = (info: NatsInfo) => {
      sock.destroy();
      resolve(info);
    };
    sock.setTimeout(timeoutMs, () =>
      finish({ url, ok: false, error: `no INFO within ${timeoutMs} ms` }),
    );
    sock.on("error", (err: NodeJS.ErrnoException) =>
      finish({ url, ok: false, error: err.code ?? err.message }),
    );
    sock.on("data", (d: Buffer) => {
      buf += d.toString("latin1");
      const end = buf.indexOf("\r\n");
      if (end < 0) {
        if (buf.length > 64 * 1024) finish({ url, ok: false, error: "no INFO line" });
        return;
      }
      const m = /^INFO\s+(\{.*\})\s*$/.exec(buf.slice(0, end));
      if (!m) return finish({ url, ok: false, error: "not a NATS server" });
      try {
        const info = JSON.parse(m[1]!) as Record<string, unknown>;
        finish({
          url,
          ok: true,
          version: typeof info.version === "string" ? info.version : undefined,
          serverName: typeof info.server_name === "string" ? info.server_name : undefined,
          jetstream: info.jetstream === true,
          tlsRequired: info.tls_required === true,
        });
      } catch {
        finish({ url, ok: false, error: "unreadable INFO" });
      }
    });
  });
}
