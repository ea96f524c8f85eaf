// The loader's HTTP server has the services' request limits (KON_HTTP_*, sdk
// createHardenedServer): a client that sends half a header line and then nothing is cut at the
// headers timeout with 408, instead of holding the connection for Node's 60 s + 30 s check.
import { halfHeaderClient } from "@konorkestra/testkit";
import { Harness, put } from "./loader-harness";

let h: Harness;
beforeAll(async () => {
  h = await Harness.start();
});
afterAll(async () => {
  await h?.stop();
});

test("a client dribbling its headers is cut at KON_HTTP_HEADERS_TIMEOUT_MS with 408", async () => {
  const saved = { ...process.env };
  process.env.KON_HTTP_HEADERS_TIMEOUT_MS = "400";
  process.env.KON_HTTP_REQUEST_TIMEOUT_MS = "1000";
  let url: string;
  try {
    const root = h.tempDir();
    put(root, "limits1/app.json", '{"v": 1}');
    url = (await h.loader(root)).loader.url;
  } finally {
    process.env = saved;
  }
  const cut = await halfHeaderClient(url, 4000);
  expect(cut.closedAfterMs).toBeDefined();
  expect(cut.closedAfterMs!).toBeLessThan(2500);
  expect(cut.answer).toMatch(/^HTTP\/1\.1 408/);
  // A whole request is still served.
  expect((await fetch(`${url}/healthz`)).status).toBeLessThan(500);
});
