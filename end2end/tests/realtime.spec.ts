import { expect, test } from "@playwright/test";
import { createChannel, messageField, messages, newUser, online, openChannel, send, signIn, unique } from "./helpers";

test("a user who was offline gets every message once, in order, and was told", async ({ page, browser }) => {
  const channel = unique("offline");
  await signIn(page, unique("amy"));
  await createChannel(page, channel);
  const bob = await newUser(browser, unique("bob"));
  await openChannel(bob, channel);
  await online(bob);
  await send(page, "before");
  await expect(messages(bob)).toHaveCount(1);

  await bob.context().setOffline(true);
  await expect(bob.getByRole("status", { name: "Connection" })).toHaveText(/offline/i);
  for (let i = 1; i <= 20; i++) {
    await send(page, `while away ${i}`);
  }
  await expect(messages(page)).toHaveCount(21);
  // Still offline: nothing new could arrive.
  await expect(bob.getByRole("status", { name: "Connection" })).toHaveText(/offline/i);
  await expect(messages(bob)).toHaveCount(1);

  await bob.context().setOffline(false);
  await expect(bob.getByRole("status", { name: "Connection" })).toHaveText(/^online$/i, { timeout: 10_000 });
  await expect(messages(bob)).toHaveCount(21);
  const texts = await messages(bob).locator("p").allTextContents();
  expect(texts).toEqual(["before", ...Array.from({ length: 20 }, (_, i) => `while away ${i + 1}`)]);
});

test("a message typed offline is sent when the connection returns, once", async ({ page, browser }) => {
  const channel = unique("outbox");
  await signIn(page, unique("cal"));
  await createChannel(page, channel);
  const dee = await newUser(browser, unique("dee"));
  await openChannel(dee, channel);
  await online(dee);

  await dee.context().setOffline(true);
  await expect(dee.getByRole("status", { name: "Connection" })).toHaveText(/offline/i);
  await messageField(dee).fill("typed while offline");
  await messageField(dee).press("Enter");
  // Shown as pending, not lost, not yet a message.
  const log = dee.getByRole("log", { name: "Messages", exact: true });
  await expect(log).toContainText("typed while offline");
  await expect(log).toContainText(/sending/i);
  await expect(messages(dee)).toHaveCount(0);

  await dee.context().setOffline(false);
  await expect(messages(page).filter({ hasText: "typed while offline" })).toHaveCount(1, { timeout: 10_000 });
  await expect(messages(dee).filter({ hasText: "typed while offline" })).toHaveCount(1);
  await expect(log).not.toContainText(/sending/i);
  // And only once: a repeat would go out before Dee's next message (her
  // outbox sends in order), so once that one is here, nothing else came.
  await send(dee, "next");
  await expect(messages(page).filter({ hasText: "next" })).toHaveCount(1);
  expect(await messages(page).locator("p").allTextContents()).toEqual(["typed while offline", "next"]);
});

test("messages not yet sent survive a reload of the page and then arrive once each, in order", async ({ page, browser }) => {
  const channel = unique("kept");
  await signIn(page, unique("kim"));
  await createChannel(page, channel);
  await online(page);
  const lee = await newUser(browser, unique("lee"));
  await openChannel(lee, channel);
  await online(lee);

  // Kim's next sockets reach nobody until `cut` is lifted: they open, and
  // the server never answers, so nothing typed can go out.
  let cut = true;
  await page.routeWebSocket(/\/ws$/, (ws) => {
    if (!cut) ws.connectToServer();
  });
  await page.context().setOffline(true);
  await expect(page.getByRole("status", { name: "Connection" })).toHaveText(/offline/i);
  await send(page, "kept 1");
  await send(page, "kept 2");
  const log = page.getByRole("log", { name: "Messages", exact: true });
  await expect(log.getByText(/sending/i)).toHaveCount(2);
  await page.context().setOffline(false);

  // The reload loses nothing: the two come back, and go out once the
  // server answers.
  cut = false;
  await page.reload();
  for (const view of [lee, page]) {
    await expect(messages(view)).toHaveCount(2, { timeout: 15_000 });
    expect(await messages(view).locator("p").allTextContents()).toEqual(["kept 1", "kept 2"]);
  }
  await expect(log).not.toContainText(/sending/i);
  // Sent once: a second reload has nothing left to send. A repeat would
  // go out before the next message typed (the outbox sends in order), so
  // once that one is here, nothing else came.
  await page.reload();
  await expect(messageField(page)).toBeEnabled();
  await online(page);
  await send(page, "after the reload");
  for (const view of [lee, page]) {
    await expect(messages(view).filter({ hasText: "after the reload" })).toHaveCount(1);
    expect(await messages(view).locator("p").allTextContents()).toEqual(["kept 1", "kept 2", "after the reload"]);
  }
});

test("pages are served with a strict CSP and still hydrate under it", async ({ page }) => {
  const violations: string[] = [];
  page.on("console", (message) => {
    if (/content security policy|refused to/i.test(message.text())) violations.push(message.text());
  });
  const response = await page.goto("/");
  const headers = response!.headers();
  expect(headers["content-security-policy"]).toMatch(/script-src 'self' 'nonce-[^']+' 'wasm-unsafe-eval'/);
  expect(headers["content-security-policy"]).toContain("frame-ancestors 'none'");
  expect(headers["x-content-type-options"]).toBe("nosniff");
  expect(headers["referrer-policy"]).toBe("same-origin");

  // Hydrated: the prompt works, and the socket connects.
  await page.getByLabel("Display name").fill(unique("csp"));
  await page.getByRole("button", { name: "Continue" }).click();
  await online(page);
  await createChannel(page, unique("csp"));
  await send(page, "under the CSP");
  await expect(messages(page)).toHaveCount(1);
  expect(violations).toEqual([]);
});

