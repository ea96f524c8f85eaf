import type { Page } from "playwright-core";

/** Signs in through the dashboard's form, as a person pasting an API token would. */
export async function signIn(page: Page, token: string): Promise<void> {
  await page.waitForSelector("#signin:not([hidden])", { timeout: 15_000 });
  await page.fill("#signin-token", token);
  await page.click("#signin-form button[type=submit]");
}
