// Lighthouse with its mobile preset (the default configuration: an
// emulated mid-range phone on a throttled 4G link) against a running Flack,
// in Debian's Chromium. Two pages, each several times:
//   - "/" on a first visit: empty browser, nothing cached;
//   - a channel of a returning user with 100 messages: the identity (cookie
//     and local storage) kept, the HTTP cache emptied, so every byte of the
//     first load is counted.
// Usage: node run.mjs [runs]; FLACK_URL (default http://127.0.0.1:3500).
// Prints one line per run and writes the full reports to target/lighthouse.
import lighthouse from "lighthouse";
import puppeteer from "puppeteer-core";
import { mkdirSync, writeFileSync } from "node:fs";
import { seed } from "./seed.mjs";

const base = process.env.FLACK_URL ?? "http://127.0.0.1:3500";
const runs = Number(process.argv[2] ?? 3);
const out = new URL("../../target/lighthouse/", import.meta.url);
mkdirSync(out, { recursive: true });

async function browser() {
  return puppeteer.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    headless: true,
    // The machine is offline: Chromium's own background connections only
    // add noise to the measurement.
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
}

function summary(name, run, lhr) {
  const audit = (id) => lhr.audits[id]?.numericValue;
  const score = (id) => Math.round(lhr.categories[id].score * 100);
  // Audits that count in the four scores and did not pass.
  const failed = ["performance", "accessibility", "best-practices", "seo"]
    .flatMap((id) => lhr.categories[id].auditRefs.filter((r) => r.weight > 0))
    .map((r) => lhr.audits[r.id])
    .filter((a) => a && a.score !== null && a.score < 1)
    .map((a) => a.id);
  const requests = lhr.audits["network-requests"]?.details?.items ?? [];
  const bytes = requests.reduce((sum, r) => sum + (r.transferSize ?? 0), 0);
  const row = {
    page: name, run,
    performance: score("performance"), accessibility: score("accessibility"),
    bestPractices: score("best-practices"), seo: score("seo"),
    fcpMs: Math.round(audit("first-contentful-paint")), lcpMs: Math.round(audit("largest-contentful-paint")),
    tbtMs: Math.round(audit("total-blocking-time")), cls: Number(audit("cumulative-layout-shift").toFixed(3)),
    speedIndexMs: Math.round(audit("speed-index")), transferredBytes: bytes,
    notPassed: [...new Set(failed)],
  };
  console.log(JSON.stringify(row));
  return row;
}

async function measure(name, run, url, keepStorage, prepare) {
  const b = await browser();
  try {
    const page = await b.newPage();
    const target = url ?? (await prepare(page, base, run));
    if (keepStorage) {
      const cdp = await page.createCDPSession();
      await cdp.send("Network.clearBrowserCache");
      await page.goto("about:blank");
    }
    const result = await lighthouse(base + target, {
      output: ["html", "json"],
      logLevel: "error",
      disableStorageReset: keepStorage,
    }, undefined, page);
    writeFileSync(new URL(`${name}-${run}.html`, out), result.report[0]);
    writeFileSync(new URL(`${name}-${run}.json`, out), result.report[1]);
    return summary(name, run, result.lhr);
  } finally {
    await b.close();
  }
}

const rows = [];
for (let run = 1; run <= runs; run++) {
  rows.push(await measure("first-visit", run, "/", false));
  rows.push(await measure("returning-channel", run, null, true, seed));
}
writeFileSync(new URL("summary.json", out), JSON.stringify(rows, null, 2));
