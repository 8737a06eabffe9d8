// Screenshots to look at, not a test: a channel with 120 messages and
// "Load older messages", on a desktop, a phone and in dark mode; then a
// conversation (an edited message, reactions, a code block, a mention, a
// thread open) at desktop and phone width, light and dark. Start a
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
await ada.getByRole("status", { name: "Connection" }).filter({ hasText: "Online" }).waitFor();
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
await bob.getByRole("status", { name: "Connection" }).filter({ hasText: "Online" }).waitFor();
await bob.getByRole("textbox", { name: "Message", exact: true }).fill("Hi Ada, I'm on my phone");
await bob.getByRole("textbox", { name: "Message", exact: true }).press("Enter");
await ada.reload();
await ada.getByRole("status", { name: "Connection" }).filter({ hasText: "Online" }).waitFor();
await ada.evaluate(() => document.querySelector('[role=log]').scrollTop = 0);
await ada.screenshot({ path: "/tmp/shots/desktop-top.png" });
await ada.getByRole("button", { name: "Load older messages" }).click();
await ada.waitForTimeout(800);
await ada.screenshot({ path: "/tmp/shots/desktop-older.png" });
await bob.waitForTimeout(500);
await bob.screenshot({ path: "/tmp/shots/phone.png" });
const dark = await user("Cyd", { colorScheme: "dark" });
await dark.goto("/c/general");
await dark.getByRole("status", { name: "Connection" }).filter({ hasText: "Online" }).waitFor();
await dark.screenshot({ path: "/tmp/shots/dark.png" });

// A conversation.
await ada.getByLabel("New channel name").fill("design");
await ada.getByRole("button", { name: "Create channel" }).click();
await ada.getByRole("heading", { level: 1, name: "design" }).waitFor();
const field = ada.getByRole("textbox", { name: "Message", exact: true });
async function say(page, text) {
  const f = page.getByRole("textbox", { name: "Message", exact: true });
  await f.fill(text);
  await f.press("Enter");
  await page.waitForTimeout(250);
}
await say(ada, "Shall we ship **threads** this week? See https://example.com/plan");
await say(ada, "Here is the _draft_ API:\n```\nfn reply(parent: Seq, text: &str) -> Seq\n```");
await say(ada, "> quoting the spec\n- edit\n- react\n- reply");
await say(ada, "Teh typo here");
await ada.getByRole("article").filter({ hasText: "Teh typo here" }).getByRole("button", { name: "Edit message" }).click();
await ada.getByRole("textbox", { name: "Edit message" }).fill("The typo is fixed");
await ada.getByRole("textbox", { name: "Edit message" }).press("Enter");
await bob.goto("/c/design");
await bob.getByRole("status", { name: "Connection" }).filter({ hasText: "Online" }).waitFor();
await say(bob, "@Ada looks good, `cargo test` is green <b>not bold</b>");
const first = ada.getByRole("article").filter({ hasText: "Shall we ship" });
for (const [page, emoji] of [[ada, "thumbs up"], [bob, "thumbs up"], [bob, "rocket"]]) {
  await page.getByRole("article").filter({ hasText: "Shall we ship" }).getByRole("button", { name: "Add reaction" }).click();
  await page.getByRole("dialog", { name: "Reactions" }).getByRole("button", { name: emoji }).click();
  await page.waitForTimeout(300);
}
await first.getByRole("button", { name: "Reply in thread" }).click();
const reply = ada.getByRole("textbox", { name: "Reply" });
await reply.fill("Yes, the panel is ready");
await reply.press("Enter");
await ada.waitForTimeout(500);
await bob.getByRole("article").filter({ hasText: "Shall we ship" }).getByRole("button", { name: /replies/ }).click();
await bob.getByRole("textbox", { name: "Reply" }).fill("Great, reviewing now");
await bob.getByRole("textbox", { name: "Reply" }).press("Enter");
await ada.waitForTimeout(800);
await ada.screenshot({ path: "/tmp/shots/conversation-desktop.png" });
await bob.waitForTimeout(300);
await bob.screenshot({ path: "/tmp/shots/conversation-phone-thread.png" });
await bob.goto("/c/design");
await bob.getByRole("status", { name: "Connection" }).filter({ hasText: "Online" }).waitFor();
await bob.screenshot({ path: "/tmp/shots/conversation-phone.png" });
await ada.getByRole("article").filter({ hasText: "Shall we ship" }).getByRole("button", { name: "Add reaction" }).first().click();
await ada.waitForTimeout(300);
await ada.screenshot({ path: "/tmp/shots/conversation-picker.png" });
await dark.goto("/c/design?thread=1");
await dark.getByRole("status", { name: "Connection" }).filter({ hasText: "Online" }).waitFor();
await dark.waitForTimeout(800);
await dark.screenshot({ path: "/tmp/shots/conversation-dark.png" });
const darkPhone = await user("Dee", { colorScheme: "dark", viewport: { width: 390, height: 800 } });
await darkPhone.goto("/c/design");
await darkPhone.getByRole("status", { name: "Connection" }).filter({ hasText: "Online" }).waitFor();
await say(ada, "@Dee welcome aboard");
await darkPhone.waitForTimeout(500);
await darkPhone.screenshot({ path: "/tmp/shots/conversation-dark-phone.png" });

// Knowing what happened: unread badges and the divider, typing, members,
// a direct message, search results; desktop and phone, light and dark.
await ada.goto("/c/general");
await ada.getByRole("status", { name: "Connection" }).filter({ hasText: "Online" }).waitFor();
await bob.goto("/c/design");
await bob.getByRole("status", { name: "Connection" }).filter({ hasText: "Online" }).waitFor();
await say(bob, "Reviewed: two small comments on the thread panel");
await say(bob, "@Ada can you look at the unread counts too?");
await say(bob, "And the typo in the README");
await ada.waitForTimeout(1200);
await ada.screenshot({ path: "/tmp/shots/unread-desktop.png" });
await dark.goto("/c/general");
await dark.getByRole("status", { name: "Connection" }).filter({ hasText: "Online" }).waitFor();
await dark.waitForTimeout(800);
await dark.screenshot({ path: "/tmp/shots/unread-dark.png" });
await ada.getByRole("navigation", { name: "Channels" }).getByRole("link", { name: /design/ }).click();
await ada.getByRole("separator", { name: "New messages" }).waitFor();
await bob.getByRole("textbox", { name: "Message", exact: true }).fill("One more thing");
await ada.getByRole("button", { name: /Members/ }).click();
await ada.waitForTimeout(800);
await ada.screenshot({ path: "/tmp/shots/divider-typing-members.png" });
await bob.getByRole("textbox", { name: "Message", exact: true }).fill("");
await ada.getByRole("button", { name: "Message Bob" }).click();
await ada.getByRole("heading", { level: 1, name: "Bob" }).waitFor();
await say(ada, "Bob, a word in private: the **launch** is Friday");
await say(bob, "Noted, see you there");
await ada.waitForTimeout(800);
await ada.screenshot({ path: "/tmp/shots/dm-desktop.png" });
await bob.waitForTimeout(800);
await bob.screenshot({ path: "/tmp/shots/dm-unread-phone.png" });
await bob.goto("/dm/Ada");
await bob.getByRole("status", { name: "Connection" }).filter({ hasText: "Online" }).waitFor();
await bob.waitForTimeout(500);
await bob.screenshot({ path: "/tmp/shots/dm-phone.png" });
await ada.getByRole("searchbox", { name: "Search messages" }).fill("typo");
await ada.getByRole("searchbox", { name: "Search messages" }).press("Enter");
await ada.getByRole("list", { name: "Search results" }).waitFor();
await ada.screenshot({ path: "/tmp/shots/search-desktop.png" });
await bob.getByRole("searchbox", { name: "Search messages" }).fill("message number 1");
await bob.getByRole("searchbox", { name: "Search messages" }).press("Enter");
await bob.getByRole("list", { name: "Search results" }).waitFor();
await bob.screenshot({ path: "/tmp/shots/search-phone.png" });
await dark.keyboard.press("Control+k");
await dark.keyboard.type("de");
await dark.waitForTimeout(500);
await dark.screenshot({ path: "/tmp/shots/switcher-dark.png" });
await browser.close();
