// bench:trust — what the trust boundary costs, measured side by side in one run on two servers
// that differ only in TLS (both have accounts; auth cannot be switched off):
//   1. a KV put seen by a watcher (the config path): p50 / p99 latency, TLS over plain;
//   2. core publishes of 200-byte heartbeats: messages/s, TLS over plain;
//   3. connecting: a system service's nkey vs a member's join key through the auth callout
//      (admin's real responder; the verifier is the cached path a reconnect storm takes).
// Usage: npm run bench:trust -- [--rounds N] [--beats N] [--connects N] [--repeat N]
import { Kvm } from "@nats-io/kv";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { silentLogger } from "@konorkestra/sdk";
import { credentialOptions, groupInboxPrefix, wireNames } from "@konorkestra/sdk/internal";
import { startNats } from "@konorkestra/testkit";
import type { NatsServer } from "@konorkestra/testkit";
import { z } from "zod";
import { CalloutResponder } from "@konorkestra/admin";
import {
  REPEAT_FLAG,
  REPEAT_USAGE,
  benchOptions,
  parseBenchFlags,
  formatRepeats,
  repeatCase,
  repeatShape,
  summarizeRepeats,
} from "../bench-flags";
import { collectMachineInfo, commandLine, formatMachineInfo } from "../machine-info";

const USAGE = [
  "usage: npm run bench:trust -- [--rounds N] [--beats N] [--connects N] [--repeat N]",
  "  --rounds N          KV put -> watch rounds per server (default 2000)",
  "  --beats N           heartbeats published per server (default 100000)",
  "  --connects N        connections opened per kind (default 50)",
  REPEAT_USAGE,
].join("\n");

const flags = z.object({
  rounds: z.coerce.number().int().min(10).default(2000),
  beats: z.coerce.number().int().min(1000).default(100_000),
  connects: z.coerce.number().int().min(5).default(50),
  help: z.boolean().default(false),
  ...repeatShape,
});

const names = wireNames();
const out = (s = ""): void => void process.stdout.write(s + "\n");

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/** Put → watch latency in ms over `rounds` writes of one key, one at a time. */
async function putToWatch(nats: NatsServer, rounds: number): Promise<{ p50: number; p99: number }> {
  const writer = await connect(nats.clientOptions());
  const reader = await connect(nats.clientOptions());
  try {
    const bucket = `trust_${Math.random().toString(36).slice(2, 8)}`;
    const kv = await new Kvm(writer).create(bucket, { history: 1 });
    const watchKv = await new Kvm(reader).open(bucket);
    const watch = await watchKv.watch({ key: "k" });
    const it = watch[Symbol.asyncIterator]();
    const times: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const t0 = performance.now();
      await kv.put("k", String(i));
      for (;;) {
        const r = await it.next();
        if (r.done) throw new Error("watch ended");
        if (r.value.string() === String(i)) break;
      }
      times.push(performance.now() - t0);
    }
    watch.stop();
    times.sort((a, b) => a - b);
    return { p50: pct(times, 50), p99: pct(times, 99) };
  } finally {
    await Promise.all([writer.close(), reader.close()]);
  }
}

/** Messages/s of core publishes of 200-byte beats, flushed at the end. */
async function beatsPerSecond(nats: NatsServer, beats: number): Promise<number> {
  const nc = await connect(nats.clientOptions());
  const sink = await connect(nats.clientOptions());
  try {
    let seen = 0;
    const done = new Promise<void>((resolve) => {
      sink.subscribe("kon.hb.bench.>", {
        callback: () => {
          if (++seen === beats) resolve();
        },
      });
    });
    await sink.flush();
    const payload = new Uint8Array(200);
    const t0 = performance.now();
    for (let i = 0; i < beats; i++) {
      nc.publish(`kon.hb.bench.n${i % 1000}`, payload);
      if (i % 5000 === 0) await nc.flush();
    }
    await nc.flush();
    await done;
    return beats / ((performance.now() - t0) / 1000);
  } finally {
    await Promise.all([nc.close(), sink.close()]);
  }
}

/** Connect latencies (ms, sorted) of `n` connections opened one after another by `open`. */
async function connectTimes(n: number, open: () => Promise<NatsConnection>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const nc = await open();
    times.push(performance.now() - t0);
    await nc.close();
  }
  return times.sort((a, b) => a - b);
}

interface Run {
  tlsP50: number;
  tlsP99: number;
  plainP50: number;
  plainP99: number;
  tlsBeats: number;
  plainBeats: number;
  nkeyP50: number;
  memberP50: number;
  memberP99: number;
}

async function runOnce(
  tls: NatsServer,
  plain: NatsServer,
  o: z.output<typeof flags>,
): Promise<Run> {
  const t = await putToWatch(tls, o.rounds);
  const p = await putToWatch(plain, o.rounds);
  const tlsBeats = await beatsPerSecond(tls, o.beats);
  const plainBeats = await beatsPerSecond(plain, o.beats);
  const svc = tls.serviceOptions("monitor");
  const nkey = await connectTimes(o.connects, () =>
    connect({ servers: svc.servers, inboxPrefix: svc.inboxPrefix, ...credentialOptions(svc) }),
  );
  const member = await connectTimes(o.connects, () =>
    connect({
      servers: tls.url,
      tls: tls.clientOptions().tls,
      token: "BENCH-KEY",
      inboxPrefix: groupInboxPrefix(names, "bench"),
    }),
  );
  return {
    tlsP50: t.p50,
    tlsP99: t.p99,
    plainP50: p.p50,
    plainP99: p.p99,
    tlsBeats,
    plainBeats,
    nkeyP50: pct(nkey, 50),
    memberP50: pct(member, 50),
    memberP99: pct(member, 99),
  };
}

async function main(): Promise<void> {
  const o = benchOptions(
    (args) =>
      parseBenchFlags(
        args,
        { strings: ["rounds", "beats", "connects", REPEAT_FLAG], booleans: [] },
        flags,
        USAGE,
      ),
    USAGE,
  );
  if (typeof o === "number") process.exit(o);
  const tls = await startNats({ tls: true });
  const plain = await startNats({ tls: false });
  const adminOpts = tls.serviceOptions("admin");
  const adminNc = await connect({
    servers: adminOpts.servers,
    inboxPrefix: adminOpts.inboxPrefix,
    ...credentialOptions(adminOpts),
  });
  const responder = new CalloutResponder({
    nc: adminNc,
    names,
    issuerSeed: tls.credentials.calloutIssuerSeed,
    // The cached path of the admin's join-key check: what every reconnect after the first costs.
    verifier: { verify: () => Promise.resolve({ ok: true, group: "bench", keyId: "BENCH001" }) },
    logger: silentLogger,
  });
  responder.start();
  await adminNc.flush();
  try {
    const varz = await tls.monitor<{ version: string }>("varz");
    out("bench:trust — the cost of TLS and of joining through the auth callout, one run");
    for (const line of formatMachineInfo(collectMachineInfo({ "nats-server": varz.version })))
      out(line);
    const cmd = commandLine();
    out(`command: ${cmd.npm ?? cmd.node}`);
    out();
    const runs = await repeatCase(o.repeat, () => runOnce(tls, plain, o));
    const row = (label: string, f: (r: Run) => number, unit: string, worse: "higher" | "lower") =>
      out(`${label.padEnd(44)} ${formatRepeats(summarizeRepeats(runs.map(f), worse), unit, 2)}`);
    row("KV put -> watch p50, TLS", (r) => r.tlsP50, "ms", "higher");
    row("KV put -> watch p50, plain", (r) => r.plainP50, "ms", "higher");
    row("KV put -> watch p99, TLS", (r) => r.tlsP99, "ms", "higher");
    row("KV put -> watch p99, plain", (r) => r.plainP99, "ms", "higher");
    row("  ratio p99 TLS / plain", (r) => r.tlsP99 / r.plainP99, "", "higher");
    row("heartbeats/s, TLS", (r) => r.tlsBeats, "msg/s", "lower");
    row("heartbeats/s, plain", (r) => r.plainBeats, "msg/s", "lower");
    row("  ratio throughput TLS / plain", (r) => r.tlsBeats / r.plainBeats, "", "lower");
    row("connect p50, system nkey (TLS)", (r) => r.nkeyP50, "ms", "higher");
    row("connect p50, member join key via callout", (r) => r.memberP50, "ms", "higher");
    row("connect p99, member join key via callout", (r) => r.memberP99, "ms", "higher");
    row("  ratio connect p50 member / nkey", (r) => r.memberP50 / r.nkeyP50, "", "higher");
    out();
    out(`callout answers: ${JSON.stringify(responder.counts)}`);
  } finally {
    await responder.stop();
    await adminNc.close();
    await Promise.all([tls.stop(), plain.stop()]);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : String(err));
  process.exit(1);
});
