import { expect, test, type Response } from "@playwright/test";
import { createChannel, messages, online, send, signIn, unique } from "./helpers";
import { OwnServer } from "./server";

test.describe.configure({ mode: "serial" });

// The release binary copied alone into an empty folder, run there with an
// empty environment: it must serve the whole app from what it embeds.
const server = new OwnServer({}, true);
test.beforeAll(async () => server.start());
test.afterAll(async () => server.stop());

const IMMUTABLE = "max-age=31536000, immutable";

// Code (JS and WASM) lives under /pkg/<version>/, the version a hash of
// all of it; the style sheet and icon under a name with their own hash.
const VERSIONED = /^\/pkg\/[0-9a-f]{16}\/[^/]+\.(js|wasm)$/;
const HASHED = /\.[0-9a-f]{16}\.(css|svg)$/;

test("the binary alone serves the app, its files compressed and cached for good under hashed names; chunks come on first use", async ({ browser }) => {
  // The port is known once the server runs (after the fixtures).
  const page = await (await browser.newContext({ baseURL: server.url })).newPage();
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
  const wasmBefore = files.filter((r) => r.url().endsWith(".wasm")).length;
  expect(wasmBefore, "one WebAssembly module before anything lazy is used").toBe(1);

  // The reaction picker's code is a chunk of its own, fetched when it first opens.
  await messages(page).first().getByRole("button", { name: "Add reaction" }).click();
  await expect(page.getByRole("dialog", { name: "Reactions" })).toBeVisible();
  const chunks = files.filter((r) => r.url().endsWith(".wasm")).slice(wasmBefore);
  expect(chunks.length, "a chunk fetched for the picker").toBeGreaterThan(0);

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
    const named = extension === "js" || extension === "wasm" ? VERSIONED : HASHED;
    expect(url.pathname, "linked by a versioned or hashed name").toMatch(named);
    expect(response.status()).toBe(200);
    const headers = await response.allHeaders();
    expect(headers["content-type"], url.pathname).toBe(byType[extension]);
    expect(headers["cache-control"], url.pathname).toBe(IMMUTABLE);
    expect(headers["content-encoding"], `${url.pathname} compressed`).toBe("br");
  }
  for (const extension of ["css", "js", "wasm"]) expect([...seen]).toContain(extension);
});

test("gzip goes to browsers without brotli; plain names must be revalidated; other files are not there", async ({ browser, playwright }) => {
  const page = await (await browser.newContext({ baseURL: server.url })).newPage();
  const request = await playwright.request.newContext({ baseURL: server.url });
  await page.goto("/");
  const start = await page.locator("head script[nonce]").first().textContent();
  const wasm = /module_or_path: "([^"]+)"/.exec(start ?? "")?.[1];
  expect(wasm).toMatch(/^\/pkg\/[0-9a-f]{16}\/flack\.wasm$/);

  const gzip = await request.get(wasm as string, { headers: { "Accept-Encoding": "gzip" } });
  expect(gzip.headers()["content-encoding"]).toBe("gzip");
  expect(gzip.headers()["cache-control"]).toBe(IMMUTABLE);
  const plain = await request.get(wasm as string, { headers: { "Accept-Encoding": "identity" } });
  expect(plain.headers()["content-encoding"]).toBeUndefined();
  // Either way, the same WebAssembly module (Playwright decodes gzip).
  const [unzipped, raw] = [await gzip.body(), await plain.body()];
  expect(raw.subarray(0, 4)).toEqual(Buffer.from([0, 0x61, 0x73, 0x6d]));
  expect(unzipped.equals(raw)).toBe(true);

  const unhashed = await request.get("/pkg/flack.css", { headers: { "Accept-Encoding": "br" } });
  expect(unhashed.status()).toBe(200);
  expect(unhashed.headers()["cache-control"]).toBe("no-cache");
  const etag = unhashed.headers()["etag"];
  expect(etag).toBeTruthy();
  const revalidated = await request.get("/pkg/flack.css", { headers: { "If-None-Match": etag } });
  expect(revalidated.status()).toBe(304);

  // cargo-leptos's own .br/.gz copies, TypeScript declarations, the split
  // manifest and unversioned code are not embedded.
  const version = (wasm as string).split("/")[2];
  for (const path of [
    `/pkg/${version}/flack.wasm.br`,
    `/pkg/${version}/flack.wasm.gz`,
    "/pkg/flack.d.ts",
    "/pkg/__wasm_split_manifest.json",
    "/pkg/flack.wasm",
    "/pkg/flack.js",
  ]) {
    expect((await request.get(path)).status(), path).toBe(404);
  }
  const missing = await request.get(`/pkg/0123456789abcdef/flack.wasm`);
  expect(missing.status()).toBe(404);
});
