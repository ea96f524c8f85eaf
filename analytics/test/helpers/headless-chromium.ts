import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import type { BrowserContext } from "playwright-core";

/** Debian's Chromium, installed by `make deps`. */
export const CHROMIUM = "/usr/bin/chromium";

/** A headless Chromium with a fresh profile, reaching nothing but loopback. */
export interface HeadlessChromium {
  context: BrowserContext;
  close(): Promise<void>;
}

/**
 * Starts Debian's Chromium through playwright-core. Fails with a clear message when it is not
 * installed, so the dashboard test can never pass by not running.
 */
export async function launchChromium(executable = CHROMIUM): Promise<HeadlessChromium> {
  if (!existsSync(executable)) {
    throw new Error(
      `${executable} not found: the dashboard test needs Debian's chromium; run 'make deps'`,
    );
  }
  const profile = mkdtempSync(join(tmpdir(), "kon-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: executable,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-quic",
      // Belt and braces: any host name other than loopback fails to resolve.
      "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
    ],
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
