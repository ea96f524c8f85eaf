import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { makeScratchDir } from "./scratch-dir";

/** Files of a local CA and the certificates it signed, as scripts/tls.sh makes them. */
export interface TestCertificates {
  dir: string;
  caFile: string;
  serverCert: string;
  serverKey: string;
  /** Client certificate and key (mutual TLS), named `client`. */
  clientCert: string;
  clientKey: string;
}

let made: TestCertificates | undefined;

/**
 * A CA, a server certificate for 127.0.0.1 and a client certificate, made once per process with
 * the project's own scripts/tls.sh (the script `make up` uses) and removed when the process exits.
 */
export function testCertificates(): TestCertificates {
  if (made) return made;
  const dir = join(makeScratchDir("tls", "", "").hostPath, "tls");
  execFileSync("bash", [resolve(__dirname, "../../scripts/tls.sh"), dir, "client"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  process.once("exit", () => rmSync(resolve(dir, ".."), { recursive: true, force: true }));
  made = {
    dir,
    caFile: join(dir, "ca.pem"),
    serverCert: join(dir, "server.pem"),
    serverKey: join(dir, "server.key"),
    clientCert: join(dir, "client.pem"),
    clientKey: join(dir, "client.key"),
  };
  return made;
}
