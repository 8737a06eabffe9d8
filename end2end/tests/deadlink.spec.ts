import { expect, test } from "@playwright/test";
import { createChannel, messages, online, send, signIn, unique } from "./helpers";
import { FreezingProxy } from "./proxy";
import { OwnServer } from "./server";

// A short idle timeout: the server pings every second and gives up on a
// socket silent for 3 s; the page does the same from its side.
test.describe.configure({ mode: "serial" });

const server = new OwnServer({ FLACK_IDLE_TIMEOUT_SECS: "3" });
const proxy = new FreezingProxy(() => server.port);
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

  // Every state the status element shows from now on, and every new socket.
  await ann.getByRole("status", { name: "Connection" }).evaluate((status) => {
    const seen: string[] = [];
    (window as unknown as { seen: string[] }).seen = seen;
    new MutationObserver(() => seen.push(status.textContent ?? "")).observe(status, {
      childList: true,
      characterData: true,
      subtree: true,
    });
  });
  let newSockets = 0;
  ann.on("websocket", () => newSockets++);

  proxy.freeze();
  for (let i = 1; i <= 5; i++) await send(bob, `while silent ${i}`);
  // Ann's page notices within the idle timeout, says so, reconnects, and
  // catches up: the frozen link alone would never have brought these.
  await expect(messages(ann)).toHaveCount(5, { timeout: 10_000 });
  for (let i = 0; i < 5; i++) await expect(messages(ann).nth(i)).toContainText(`while silent ${i + 1}`);
  await expect(ann.getByRole("status", { name: "Connection" })).toHaveText(/^online$/i);
  expect(newSockets).toBeGreaterThanOrEqual(1);
  const seen = await ann.evaluate(() => (window as unknown as { seen: string[] }).seen);
  expect(seen.some((text) => /reconnecting/i.test(text)), `states: ${seen.join(" | ")}`).toBe(true);
});
