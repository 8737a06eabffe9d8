// Screenshots to look at, not a test: a channel with 120 messages and
// "Load older messages", on a desktop, a phone and in dark mode. Start a
// server first, e.g.
//   target/release/flack --addr 127.0.0.1:3400 --database /tmp/shot.db --send-per-second 0
// then `node screenshots.mjs` here; the pictures go to /tmp/shots.
import { chromium } from "@playwright/test";
import { mkdirSync } from "node:fs";
const base = process.env.FLACK_URL ?? "http://127.0.0.1:3400";
mkdirSync("/tmp/shots", { recursive: true });
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox", "--disable-gpu"] });
async function user(name, opts = {}) {
  const ctx = await browser.newContext({ baseURL: base, ...opts });
  const page = await ctx.newPage();
  await page.goto("/");
  await page.getByLabel("Display name").fill(name);
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByLabel("Signed in as").waitFor();
  return page;
}
const ada = await user("Ada");
await ada.getByLabel("New channel name").fill("general");
await ada.getByRole("button", { name: "Create channel" }).click();
await ada.getByRole("heading", { level: 1, name: "general" }).waitFor();
await ada.getByRole("status").filter({ hasText: "Online" }).waitFor();
await ada.getByRole("textbox", { name: "Message", exact: true }).evaluate((field) => {
  for (let i = 1; i <= 120; i++) {
    field.value = `Message number ${i}`;
    field.dispatchEvent(new Event("input", { bubbles: true }));
    field.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true, cancelable: true }));
  }
});
await ada.waitForTimeout(3000);
const bob = await user("Bob", { viewport: { width: 390, height: 800 } });
await bob.goto("/c/general");
await bob.getByRole("status").filter({ hasText: "Online" }).waitFor();
await bob.getByRole("textbox", { name: "Message", exact: true }).fill("Hi Ada, I'm on my phone");
await bob.getByRole("textbox", { name: "Message", exact: true }).press("Enter");
await ada.reload();
await ada.getByRole("status").filter({ hasText: "Online" }).waitFor();
await ada.evaluate(() => document.querySelector('[role=log]').scrollTop = 0);
await ada.screenshot({ path: "/tmp/shots/desktop-top.png" });
await ada.getByRole("button", { name: "Load older messages" }).click();
await ada.waitForTimeout(800);
await ada.screenshot({ path: "/tmp/shots/desktop-older.png" });
await bob.waitForTimeout(500);
await bob.screenshot({ path: "/tmp/shots/phone.png" });
const dark = await user("Cyd", { colorScheme: "dark" });
await dark.goto("/c/general");
await dark.getByRole("status").filter({ hasText: "Online" }).waitFor();
await dark.screenshot({ path: "/tmp/shots/dark.png" });
await browser.close();
