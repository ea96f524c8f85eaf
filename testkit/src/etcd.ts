import { join } from "node:path";
import { getFreePort } from "./free-port";
import { ManagedProcess } from "./managed-process";
import { makeScratchDir } from "./scratch-dir";
import { loadStackEnv } from "./stack-env";

/** A single-member etcd on loopback, for benchmarks that compare against etcd's watch. */
export interface EtcdServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

/** Starts etcd (provisioned by `make bench-deps`) with a temporary data directory. */
export async function startEtcd(): Promise<EtcdServer> {
  const bin = loadStackEnv().etcd;
  if (!bin) throw new Error("testkit: no etcd provisioned: run 'make bench-deps'");
  const dir = makeScratchDir("etcd", "", "");
  const [client, peer] = [await getFreePort(), await getFreePort()];
  const url = `http://127.0.0.1:${client}`;
  const peerUrl = `http://127.0.0.1:${peer}`;
  const proc = await ManagedProcess.launch({
    name: "etcd",
    command: bin,
    args: [
      "--name=kon",
      `--data-dir=${join(dir.hostPath, "data")}`,
      `--listen-client-urls=${url}`,
      `--advertise-client-urls=${url}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=kon=${peerUrl}`,
      "--log-level=info",
    ],
    logFile: join(dir.hostPath, "etcd.log"),
    readyPattern: /ready to serve client requests/,
    scratchDir: dir.hostPath,
  }).catch((err: unknown) => {
    dir.remove();
    throw err;
  });
  return {
    url,
    pid: proc.pid,
    stop: async () => {
      await proc.stop();
      dir.remove();
    },
  };
}
