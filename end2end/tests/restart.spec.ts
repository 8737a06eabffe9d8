import { expect, test } from "@playwright/test";
import { createChannel, messageField, messages, online, openChannel, send, signIn, unique } from "./helpers";
import { OwnServer } from "./server";

test.describe.configure({ mode: "serial" });

const server = new OwnServer();
test.beforeAll(async () => server.start());
test.afterAll(async () => server.stop());

for (const signal of ["SIGKILL", "SIGTERM"] as const) {
  test(`after the server is restarted (${signal}) both browsers come back to the same channel, messages and names`, async ({
    browser,
  }) => {
    const channel = unique("restart");
    const annName = unique("ann");
    const bobName = unique("bob");
    const ann = await (await browser.newContext({ baseURL: server.url })).newPage();
    const bob = await (await browser.newContext({ baseURL: server.url })).newPage();
    await signIn(ann, annName);
    await createChannel(ann, channel);
    await signIn(bob, bobName);
    await openChannel(bob, channel);
    await online(bob);
    for (const text of ["one", "two", "three"]) await send(ann, text);
    await expect(messages(bob)).toHaveCount(3);

    await server.stop(false, signal);
    for (const page of [ann, bob]) {
      await expect(page.getByRole("status", { name: "Connection" })).toHaveText(/reconnecting|offline/i);
    }
    // Typed while the server is down: waits in the outbox.
    await send(ann, "typed while it was down");
    await server.start();

    // Back by themselves, no reload: same channel, same messages, same
    // names, the one typed meanwhile delivered once.
    for (const page of [ann, bob]) {
      await expect(page.getByRole("status", { name: "Connection" })).toHaveText(/^online$/i, { timeout: 20_000 });
      await expect(page.getByRole("heading", { level: 1, name: channel })).toBeVisible();
      await expect(messages(page)).toHaveCount(4);
      await expect(page.getByLabel("Display name")).toHaveCount(0);
    }
    await expect(ann.getByLabel("Signed in as")).toContainText(annName);
    await expect(bob.getByLabel("Signed in as")).toContainText(bobName);
    for (const [i, text] of ["one", "two", "three", "typed while it was down"].entries()) {
      await expect(messages(bob).nth(i)).toContainText(text);
    }

    // Still the same identity: the new server lets Ann delete her own.
    await send(bob, "I am back too");
    await expect(messages(ann)).toHaveCount(5);
    await messages(ann).filter({ hasText: "two" }).getByRole("button", { name: "Delete message" }).click();
    await expect(messages(bob)).toHaveCount(4);

    // A fresh load: the same, from the server's HTML, without asking for
    // the name; and `/` goes back to the channel.
    await ann.reload();
    await expect(messages(ann)).toHaveCount(4);
    await expect(ann.getByLabel("Signed in as")).toContainText(annName);
    await expect(ann.getByLabel("Display name")).toHaveCount(0);
    await ann.goto("/");
    await expect(ann.getByRole("heading", { level: 1, name: channel })).toBeVisible();
    await expect(messageField(ann)).toBeEnabled();
  });
}
