/**
 * Headless Chromium for the end-to-end tests: Debian's `chromium` package
 * driven by playwright-core (nothing downloaded). Works on Node and on Deno.
 */

import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, chromium } from "playwright-core";

export const CHROMIUM = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.CHROMIUM_PATH ?? "/usr/bin/chromium";

export function chromiumAvailable(): boolean {
  return existsSync(CHROMIUM);
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

const root = fileURLToPath(new URL("../..", import.meta.url));

/** A path under test-artifacts/ (gitignored), for screenshots. */
export function artifact(name: string): string {
  const dir = join(root, "test-artifacts");
  mkdirSync(dir, { recursive: true });
  return join(dir, name);
}
