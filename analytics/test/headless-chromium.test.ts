import { launchChromium } from "./helpers/headless-chromium";

test("a missing chromium fails the browser test with a message saying to run make deps", async () => {
  await expect(launchChromium("/nonexistent/chromium")).rejects.toThrow(
    "/nonexistent/chromium not found: the dashboard test needs Debian's chromium; run 'make deps'",
  );
});
