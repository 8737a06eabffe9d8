import { expect, test } from "@playwright/test";
import { createChannel, messages, online, send, signIn, unique } from "./helpers";
import { FreezingProxy } from "./proxy";
import { OwnServer } from "./server";

// A short idle timeout: the server pings every second and gives up on a
// socket silent for 3 s; the page does the same from its side.
test.describe.configure({ mode: "serial" });

const server = new OwnServer(3109, { FLACK_IDLE_TIMEOUT_SECS: "3" });
const proxy = new FreezingProxy(3110, 3109);
test.beforeAll(async () => {
  await server.start();
  await proxy.start();
});
test.afterAll(async () => {
  await proxy.stop();
  await server.stop();
});

test("a link that goes silent is noticed, said, and replaced; nothing sent meanwhile is missed", async ({ browser }) => {
  const channel = unique("silent");
  // Ann reaches the server through the proxy; Bob directly.
  const ann = await (await browser.newContext({ baseURL: proxy.url })).newPage();
  const bob = await (await browser.newContext({ baseURL: server.url })).newPage();
  await signIn(ann, unique("ann"));
  await createChannel(ann, channel);
  await online(ann);
  await signIn(bob, unique("bob"));
  await bob.goto(`/c/${channel}`);
  await online(bob);

  proxy.freeze();
  for (let i = 1; i <= 5; i++) await send(bob, `while silent ${i}`);
  // Ann's page notices within the idle timeout, says so, reconnects.
  await expect(ann.getByRole("status")).toHaveText(/reconnecting/i, { timeout: 8_000 });
  await expect(ann.getByRole("status")).toHaveText(/^online$/i, { timeout: 15_000 });
  await expect(messages(ann)).toHaveCount(5);
  for (let i = 0; i < 5; i++) await expect(messages(ann).nth(i)).toContainText(`while silent ${i + 1}`);
});
