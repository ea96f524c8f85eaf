// `node admin/dist/nats-auth/provision-main.js <secrets dir> <accounts.conf>`: used by
// scripts/stack.sh at `make up` to create the services' NATS keys once and write the accounts
// part of the server configuration. Prints nothing secret.
import { writeFileSync } from "node:fs";
import { provisionNatsSecrets } from "./stack-secrets";

const [dir, out] = process.argv.slice(2);
if (!dir || !out) {
  process.stderr.write("usage: provision-main <secrets dir> <accounts.conf>\n");
  process.exit(2);
}
writeFileSync(out, provisionNatsSecrets(dir, process.env.KON_PREFIX ?? "kon"), { mode: 0o600 });
