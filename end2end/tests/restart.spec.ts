import { expect, test } from "@playwright/test";
import { createChannel, messages, online, send, signIn, unique } from "./helpers";
import { OwnServer } from "./server";

test.describe.configure({ mode: "serial" });

const server = new OwnServer(3107);
test.beforeAll(async () => server.start());
test.afterAll(async () => server.stop());
test.use({ baseURL: server.url });

test("after a server restart both clients reconnect by themselves and show the current state", async ({ browser }) => {
  const channel = unique("restart");
  const ann = await (await browser.newContext({ baseURL: server.url })).newPage();
  const bob = await (await browser.newContext({ baseURL: server.url })).newPage();
  await signIn(ann, unique("ann"));
  await createChannel(ann, channel);
  await signIn(bob, unique("bob"));
  await bob.getByRole("navigation", { name: "Channels" }).getByRole("link", { name: channel }).click();
  await online(bob);
  await send(ann, "before the restart");
  await expect(messages(bob)).toHaveCount(1);

  await server.stop();
  for (const page of [ann, bob]) {
    await expect(page.getByRole("status")).toHaveText(/reconnecting|offline/i);
  }
  await server.start();

  // Back by themselves, no reload. The new run holds nothing yet (state
  // is in memory): the channel is gone, and both say so.
  for (const page of [ann, bob]) {
    await expect(page.getByRole("status")).toHaveText(/^online$/i, { timeout: 20_000 });
    await expect(page.getByRole("alert").filter({ hasText: /no channel named/i }).first()).toBeVisible();
    await expect(messages(page)).toHaveCount(0);
    await expect(page.getByRole("navigation", { name: "Channels" }).getByRole("link", { name: channel })).toHaveCount(0);
  }

  // Creating it again brings both back into it, signed in as before.
  await createChannel(ann, channel);
  await expect(bob.getByRole("heading", { level: 1, name: channel })).toBeVisible();
  await send(ann, "after the restart");
  await expect(messages(bob)).toHaveCount(1);
  await expect(messages(bob).first()).toContainText("after the restart");
  await send(bob, "I am back too");
  await expect(messages(ann)).toHaveCount(2);
});
