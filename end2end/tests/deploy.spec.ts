import { expect, test, type Response } from "@playwright/test";
import { createChannel, messages, online, send, signIn, unique } from "./helpers";
import { OwnServer } from "./server";

test.describe.configure({ mode: "serial" });

// The release binary copied alone into an empty folder, run there with an
// empty environment: it must serve the whole app from what it embeds.
const server = new OwnServer(3109, {}, true);
test.beforeAll(async () => server.start());
test.afterAll(async () => server.stop());
test.use({ baseURL: server.url });

const IMMUTABLE = "max-age=31536000, immutable";

test("the binary alone serves the app, its files compressed and cached for good under hashed names", async ({ page }) => {
  const files: Response[] = [];
  page.on("response", (response) => {
    if (/\.(js|wasm|css|svg)$/.test(new URL(response.url()).pathname)) files.push(response);
  });

  await signIn(page, unique("solo"));
  const channel = unique("deploy");
  await createChannel(page, channel);
  await online(page);
  await send(page, "served by one file");
  await expect(messages(page)).toHaveCount(1);
  await expect(messages(page).first()).toContainText("served by one file");

  const byType: Record<string, string> = {
    js: "text/javascript",
    wasm: "application/wasm",
    css: "text/css",
    svg: "image/svg+xml",
  };
  const seen = new Set<string>();
  for (const response of files) {
    const url = new URL(response.url());
    const extension = url.pathname.split(".").pop() as string;
    seen.add(extension);
    // A name with a 16-hex-digit content hash: /pkg/flack.<hash>.wasm
    expect(url.pathname, "linked by its hashed name").toMatch(/\.[0-9a-f]{16}\.[a-z]+$/);
    expect(response.status()).toBe(200);
    const headers = await response.allHeaders();
    expect(headers["content-type"], url.pathname).toBe(byType[extension]);
    expect(headers["cache-control"], url.pathname).toBe(IMMUTABLE);
    expect(headers["content-encoding"], `${url.pathname} compressed`).toBe("br");
  }
  for (const extension of ["css", "js", "wasm"]) expect([...seen]).toContain(extension);
});

test("gzip goes to browsers without brotli; plain names must be revalidated; other files are not there", async ({ page, request }) => {
  await page.goto("/");
  const wasm = await page.locator('link[rel="preload"][as="fetch"]').getAttribute("href");
  expect(wasm).toMatch(/^\/pkg\/flack\.[0-9a-f]{16}\.wasm$/);

  const gzip = await request.get(wasm as string, { headers: { "Accept-Encoding": "gzip" } });
  expect(gzip.headers()["content-encoding"]).toBe("gzip");
  expect(gzip.headers()["cache-control"]).toBe(IMMUTABLE);
  const plain = await request.get(wasm as string, { headers: { "Accept-Encoding": "identity" } });
  expect(plain.headers()["content-encoding"]).toBeUndefined();
  // Either way, the same WebAssembly module (Playwright decodes gzip).
  const [unzipped, raw] = [await gzip.body(), await plain.body()];
  expect(raw.subarray(0, 4)).toEqual(Buffer.from([0, 0x61, 0x73, 0x6d]));
  expect(unzipped.equals(raw)).toBe(true);

  const unhashed = await request.get("/pkg/flack.wasm", { headers: { "Accept-Encoding": "br" } });
  expect(unhashed.status()).toBe(200);
  expect(unhashed.headers()["cache-control"]).toBe("no-cache");
  const etag = unhashed.headers()["etag"];
  expect(etag).toBeTruthy();
  const revalidated = await request.get("/pkg/flack.wasm", { headers: { "If-None-Match": etag } });
  expect(revalidated.status()).toBe(304);

  // cargo-leptos's own .br/.gz copies and TypeScript declarations are not embedded.
  for (const path of ["/pkg/flack.wasm.br", "/pkg/flack.wasm.gz", "/pkg/flack.d.ts"]) {
    expect((await request.get(path)).status(), path).toBe(404);
  }
  const missing = await request.get(`/pkg/flack.0123456789abcdef.wasm`);
  expect(missing.status()).toBe(404);
});
