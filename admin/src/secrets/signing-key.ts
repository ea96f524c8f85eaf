import { createPrivateKey, createPublicKey, generateKeyPairSync } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { KonError, KonErrorCode } from "@konorkestra/sdk";
import { writePrivateFile } from "./private-file";

/** The admin service's token-signing key pair. */
export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** The public key as SPKI PEM, as written to `<file>.pub`. */
  publicPem: string;
}

/**
 * Loads the Ed25519 signing key from `file` (PKCS#8 PEM), creating it (0600, directory 0700) when
 * missing, and (re)writes its public key to `<file>.pub` (0644) for token verifiers. A file that
 * is not an Ed25519 private key is an error naming the file, never its content.
 */
export function loadSigningKey(file: string): SigningKey {
  let privateKey: KeyObject;
  if (existsSync(file)) {
    try {
      privateKey = createPrivateKey(readFileSync(file));
    } catch (err) {
      throw new KonError(
        KonErrorCode.InvalidOptions,
        `signing key file ${file} is not a PEM private key (${(err as { code?: string }).code ?? "unreadable"})`,
      );
    }
    if (privateKey.asymmetricKeyType !== "ed25519") {
      throw new KonError(
        KonErrorCode.InvalidOptions,
        `signing key file ${file} holds a ${privateKey.asymmetricKeyType} key; an Ed25519 key is required`,
      );
    }
  } else {
    privateKey = generateKeyPairSync("ed25519").privateKey;
    writePrivateFile(file, privateKey.export({ type: "pkcs8", format: "pem" }).toString());
  }
  const publicKey = createPublicKey(privateKey);
  const publicPem = publicKey.export({ type: "spki", format: "pem" }).toString();
  const pubFile = `${file}.pub`;
  if (!existsSync(pubFile) || readFileSync(pubFile, "utf8") !== publicPem) {
    writeFileSync(pubFile, publicPem, { mode: 0o644 });
  }
  return { privateKey, publicKey, publicPem };
}
