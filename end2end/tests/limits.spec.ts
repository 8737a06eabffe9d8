import { expect, test } from "@playwright/test";
import { createChannel, messageField, messages, online, signIn, unique } from "./helpers";
import { OwnServer } from "./server";

// A server with the default limits (the shared one runs with a larger
// send burst, so that other tests can send quickly).
test.describe.configure({ mode: "serial" });

const server = new OwnServer(3108, { FLACK_SEND_BURST: "10", FLACK_SEND_PER_SECOND: "5" });
test.beforeAll(async () => server.start());
test.afterAll(async () => server.stop());

test("too many sends at once are limited with a clear message, and the rest still arrive", async ({ browser }) => {
  const page = await (await browser.newContext({ baseURL: server.url })).newPage();
  await signIn(page, unique("eli"));
  await createChannel(page, unique("flood"));
  await online(page);
  // Thirty sends in one burst: more than the server allows at once.
  await expect(messageField(page)).toBeEnabled();
  await messageField(page).evaluate((field: HTMLTextAreaElement) => {
    for (let i = 1; i <= 30; i++) {
      field.value = `burst ${i}`;
      field.dispatchEvent(new Event("input", { bubbles: true }));
      field.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true, cancelable: true }));
    }
  });
  const log = page.getByRole("log", { name: "Messages" });
  await expect(log).toContainText(/sending messages too fast/i);
  await expect(log.getByRole("button", { name: "Retry" }).first()).toBeVisible();
  const delivered = await messages(page).count();
  expect(delivered).toBeGreaterThanOrEqual(10);
  expect(delivered).toBeLessThan(30);
  // Retrying a refused one later delivers it.
  await page.waitForTimeout(1500);
  await log.getByRole("button", { name: "Retry" }).first().click();
  await expect(messages(page)).toHaveCount(delivered + 1);
});
