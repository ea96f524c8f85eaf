import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createAccount, createUser, fromSeed } from "@nats-io/nkeys";
import type { KeyPair } from "@nats-io/nkeys";
import { SYSTEM_ROLES, renderServerAccounts, wireNames } from "@konorkestra/sdk/internal";
import type { SystemRole } from "@konorkestra/sdk/internal";

/** Where one installation keeps the NATS keys of its services. */
export interface NatsSecretFiles {
  /** `nats-<role>.nk`: each system service's user seed. */
  services: Record<SystemRole, string>;
  /** `nats-system.nk`: the system account's user seed. */
  system: string;
  /** `nats-callout-issuer.nk`: the account seed that signs the auth callout's answers. */
  calloutIssuer: string;
}

export function natsSecretFiles(dir: string): NatsSecretFiles {
  const services = {} as Record<SystemRole, string>;
  for (const role of SYSTEM_ROLES) services[role] = join(dir, `nats-${role}.nk`);
  return {
    services,
    system: join(dir, "nats-system.nk"),
    calloutIssuer: join(dir, "nats-callout-issuer.nk"),
  };
}

/** Reads a seed file, or creates it (0600) with a new key of the given kind. */
function seedFile(path: string, create: () => KeyPair): KeyPair {
  if (existsSync(path)) {
    return fromSeed(new TextEncoder().encode(readFileSync(path, "utf8").trim()));
  }
  const kp = create();
  writeFileSync(path, new TextDecoder().decode(kp.getSeed()) + "\n", { mode: 0o600 });
  return kp;
}

/**
 * Creates the keys that are missing under `dir` (0700; seeds 0600; existing keys are kept, so
 * running it again changes nothing) and returns the accounts part of the NATS configuration.
 */
export function provisionNatsSecrets(dir: string, prefix = "kon"): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const files = natsSecretFiles(dir);
  const serviceKeys = {} as Record<SystemRole, string>;
  for (const role of SYSTEM_ROLES) {
    serviceKeys[role] = seedFile(files.services[role], createUser).getPublicKey();
  }
  return renderServerAccounts({
    names: wireNames(prefix),
    calloutIssuer: seedFile(files.calloutIssuer, createAccount).getPublicKey(),
    serviceKeys,
    systemKey: seedFile(files.system, createUser).getPublicKey(),
  });
}
