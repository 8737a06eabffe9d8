// Where a channel page's load spends the main thread: a returning user's
// channel with 100 messages, loaded with the CPU slowed 4x (as Lighthouse's
// phone), profiled with the browser's sampling profiler; prints the
// functions with the most self time, and the long tasks. Usage:
// node profile.mjs [first-visit] (FLACK_URL as in run.mjs); writes
// target/lighthouse/load.cpuprofile.
import puppeteer from "puppeteer-core";
import { writeFileSync, mkdirSync } from "node:fs";
const base = process.env.FLACK_URL ?? "http://127.0.0.1:3500";
const out = new URL("../../target/lighthouse/", import.meta.url);
mkdirSync(out, { recursive: true });
const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  headless: true,
  args: [...(process.env.CHROME_FLAGS ? process.env.CHROME_FLAGS.split(" ") : []), "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});
const page = await browser.newPage();
// FLACK_NAMED_PKG: a folder with a flack.js and flack_bg.wasm made by
// wasm-bindgen --keep-debug from the same build, served instead of the
// page's, so that the profile names the WebAssembly's functions.
const named = process.env.FLACK_NAMED_PKG;
if (named) {
  const { readFileSync } = await import("node:fs");
  await page.setRequestInterception(true);
  page.on("request", (request) => {
    const url = new URL(request.url());
    if (/^\/pkg\/[0-9a-f]+\/flack\.js$/.test(url.pathname)) {
      request.respond({ status: 200, contentType: "text/javascript", body: readFileSync(`${named}/flack.js`) });
    } else if (/^\/pkg\/[0-9a-f]+\/flack\.wasm$/.test(url.pathname)) {
      request.respond({ status: 200, contentType: "application/wasm", body: readFileSync(`${named}/flack_bg.wasm`) });
    } else request.continue();
  });
}
// `node profile.mjs first-visit`: "/" for a newcomer instead.
const firstVisit = process.argv[2] === "first-visit";
const { seed } = await import("./seed.mjs");
const path = firstVisit ? "/" : await seed(page, base, Date.now() % 100000);
const cdp = await page.createCDPSession();
await cdp.send("Emulation.setCPUThrottlingRate", { rate: 4 });
await cdp.send("Profiler.enable");
await cdp.send("Profiler.setSamplingInterval", { interval: 100 });
// The long tasks (over 50 ms) of the load, as the browser reports them:
// what total blocking time is made of.
await page.evaluateOnNewDocument(() => {
  window.__longTasks = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__longTasks.push([Math.round(e.startTime), Math.round(e.duration)]);
  }).observe({ type: "longtask", buffered: true });
});
await page.goto("about:blank");
await cdp.send("Profiler.start");
await page.goto(base + path, { waitUntil: "load" });
if (firstVisit) {
  await page.waitForFunction(() => !document.querySelector("input[aria-label='Display name']")?.disabled, { timeout: 60000 });
} else {
  await page.waitForFunction(() => document.querySelector("[aria-label=Connection]")?.textContent.includes("Online"), { timeout: 60000 });
}
await new Promise((r) => setTimeout(r, 500));
const { profile } = await cdp.send("Profiler.stop");
const longTasks = await page.evaluate(() => window.__longTasks);
const blocking = longTasks.reduce((sum, [, d]) => sum + Math.max(0, d - 50), 0);
console.log(`long tasks (start ms, duration ms): ${JSON.stringify(longTasks)}; blocking ${blocking} ms`);
writeFileSync(new URL("load.cpuprofile", out), JSON.stringify(profile));
const self = new Map();
const dt = profile.timeDeltas;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const time = new Map();
profile.samples.forEach((id, i) => time.set(id, (time.get(id) ?? 0) + (dt[i] ?? 0)));
let total = 0;
for (const [id, us] of time) {
  const n = byId.get(id);
  const name = `${n.callFrame.functionName || "(anonymous)"} ${n.callFrame.url.split("/").pop()}`;
  if (name.startsWith("(idle)") || name.startsWith("(program)")) continue;
  self.set(name, (self.get(name) ?? 0) + us);
  total += us;
}
console.log(`busy ${Math.round(total / 1000)} ms (CPU slowed 4x)`);
for (const [name, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 40)) {
  console.log(`${(us / 1000).toFixed(1).padStart(8)} ms  ${name.slice(0, 150)}`);
}
await browser.close();
