import { expect, test } from "@playwright/test";
import { createChannel, messageField, messages, online, openChannel, signIn, unique } from "./helpers";
import { OwnServer } from "./server";

// A server with the default limits (the shared one runs with a larger
// send burst, so that other tests can send quickly).
test.describe.configure({ mode: "serial" });

const server = new OwnServer({ FLACK_SEND_BURST: "10", FLACK_SEND_PER_SECOND: "5" });
test.beforeAll(async () => server.start());
test.afterAll(async () => server.stop());

/** Types `count` messages into the field at once, each sent with Enter. */
async function typeMany(page: import("@playwright/test").Page, prefix: string, count: number) {
  await messageField(page).evaluate(
    (field: HTMLTextAreaElement, [prefix, count]) => {
      for (let i = 1; i <= (count as number); i++) {
        field.value = `${prefix} ${i}`;
        field.dispatchEvent(new Event("input", { bubbles: true }));
        field.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true, cancelable: true }));
      }
    },
    [prefix, count] as const,
  );
}

async function expectAllInOrder(page: import("@playwright/test").Page, prefix: string, count: number) {
  await expect(messages(page)).toHaveCount(count, { timeout: 20_000 });
  const texts = await messages(page).locator("p").allTextContents();
  expect(texts).toEqual(Array.from({ length: count }, (_, i) => `${prefix} ${i + 1}`));
}

test("a burst beyond the send limit goes out at the pace the server allows: all of it, in order", async ({ browser }) => {
  const page = await (await browser.newContext({ baseURL: server.url })).newPage();
  await signIn(page, unique("eli"));
  await createChannel(page, unique("flood"));
  await online(page);
  // Thirty sends in one burst: more than the server allows at once.
  await expect(messageField(page)).toBeEnabled();
  await typeMany(page, "burst", 30);
  await expectAllInOrder(page, "burst", 30);
  const log = page.getByRole("log", { name: "Messages", exact: true });
  await expect(log).not.toContainText(/not sent/i);
  await expect(log.getByRole("button", { name: "Retry" })).toHaveCount(0);
});

test("thirty messages typed offline all arrive once each, in order, without a 'Not sent'", async ({ browser }) => {
  const channel = unique("away");
  const page = await (await browser.newContext({ baseURL: server.url })).newPage();
  await signIn(page, unique("ora"));
  await createChannel(page, channel);
  await online(page);
  const watcher = await (await browser.newContext({ baseURL: server.url })).newPage();
  await signIn(watcher, unique("quin"));
  await openChannel(watcher, channel);
  await online(watcher);

  await page.context().setOffline(true);
  await expect(page.getByRole("status", { name: "Connection" })).toHaveText(/offline/i);
  await typeMany(page, "offline", 30);
  await expect(page.getByRole("log", { name: "Messages", exact: true }).getByText("Sending…")).toHaveCount(30);
  await page.context().setOffline(false);

  await expectAllInOrder(watcher, "offline", 30);
  await expectAllInOrder(page, "offline", 30);
  await expect(page.getByRole("log", { name: "Messages", exact: true })).not.toContainText(/not sent|sending/i);
});
