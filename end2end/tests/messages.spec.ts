import { expect, test } from "@playwright/test";
import { createChannel, flood, messageField, messages, newUser, online, openChannel, send, signIn, unique } from "./helpers";

test("two people chat in real time, with names and server timestamps", async ({ page, browser }) => {
  const ann = unique("ann");
  const ben = unique("ben");
  const channel = unique("chat");
  await signIn(page, ann);
  await createChannel(page, channel);
  const other = await newUser(browser, ben);
  await openChannel(other, channel);
  await online(other);

  await send(page, "Hello Ben!");
  const first = messages(other).first();
  await expect(first).toContainText("Hello Ben!");
  await expect(first).toContainText(ann);
  const datetime = await first.locator("time").getAttribute("datetime");
  expect(datetime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
  expect(Math.abs(Date.parse(datetime!) - Date.now())).toBeLessThan(60_000);

  await send(other, "Hi Ann");
  await expect(messages(page).nth(1)).toContainText("Hi Ann");
  await expect(messages(page).nth(1)).toContainText(ben);

  // Same order for both, oldest first.
  for (const p of [page, other]) {
    await expect(messages(p)).toHaveCount(2);
    await expect(messages(p).nth(0)).toContainText("Hello Ben!");
    await expect(messages(p).nth(1)).toContainText("Hi Ann");
  }
});

test("Enter sends, Shift+Enter makes a newline, empty messages are not sent", async ({ page }) => {
  await signIn(page, unique("fay"));
  await createChannel(page, unique("keys"));
  const field = messageField(page);

  await field.press("Enter");
  await field.fill("   ");
  await field.press("Enter");
  await expect(messages(page)).toHaveCount(0);

  await field.fill("");
  await field.type("line one");
  await field.press("Shift+Enter");
  await field.type("line two");
  await expect(field).toHaveValue("line one\nline two");
  await field.press("Enter");
  await expect(messages(page)).toHaveCount(1);
  await expect(messages(page).first().locator("p")).toHaveText("line one\nline two");

  await field.fill("with the button");
  await page.getByRole("button", { name: "Send" }).click();
  await expect(messages(page)).toHaveCount(2);
});

test("a fresh load of a channel is rendered by the server", async ({ page, browser }) => {
  const channel = unique("ssr");
  await signIn(page, unique("gus"));
  await createChannel(page, channel);
  await send(page, "rendered on the server");
  await expect(messages(page)).toHaveCount(1);

  // Without JavaScript, only the server's HTML can show it.
  const noScript = await browser.newContext({ javaScriptEnabled: false });
  const plain = await noScript.newPage();
  await plain.goto(`/c/${channel}`);
  await expect(plain.getByRole("heading", { level: 1, name: channel })).toBeVisible();
  await expect(messages(plain)).toHaveCount(1);
  await expect(messages(plain).first()).toContainText("rendered on the server");
  await expect(plain.getByRole("navigation", { name: "Channels" }).getByRole("link", { name: channel })).toBeVisible();
});

test("the server's page opens at the newest messages, before the page's code runs", async ({ page }) => {
  const channel = unique("newest");
  await signIn(page, unique("ida"));
  await createChannel(page, channel);
  await online(page);
  await flood(page, channel, "message", 40);
  await expect(messages(page).last()).toContainText("message 40");

  // The server's HTML alone (the code is never fetched): what the first
  // paint shows.
  const plain = await page.context().newPage();
  await plain.route(/\/pkg\/.*\.(js|wasm)$/, (route) => route.abort());
  await plain.goto(`/c/${channel}`);
  await expect(messages(plain)).toHaveCount(40);
  await expect(messages(plain).last()).toBeInViewport();
  await expect(messages(plain).first()).not.toBeInViewport();
});

test("after 150 messages the view and the server hold exactly the last 100", async ({ page, request }) => {
  test.setTimeout(90_000);
  const channel = unique("flood");
  await signIn(page, unique("hal"));
  await createChannel(page, channel);
  await online(page);
  // Typed one by one this takes long on a loaded machine; the page's own
  // socket path is the same for the view.
  await flood(page, channel, "message", 150);
  await expect(messages(page).last()).toContainText("message 150");
  await expect(messages(page)).toHaveCount(100);
  await expect(messages(page).first()).toContainText("message 51");

  const reply = await request.post("/api/channel_history", { form: { channel } });
  expect(reply.status()).toBe(200);
  const history = await reply.json();
  expect(history.messages).toHaveLength(100);
  expect(history.messages[0].text).toBe("message 51");
  expect(history.messages[0].seq).toBe(51);
  expect(history.messages[99].text).toBe("message 150");

  // A fresh load shows the same 100; the 50 before them are stored and
  // come back, above, on request.
  await page.reload();
  await expect(messages(page)).toHaveCount(100);
  await expect(messages(page).first()).toContainText("message 51");
  const older = page.getByRole("button", { name: "Load older messages" });
  await expect(older).toBeEnabled();
  await older.click();
  await expect(messages(page)).toHaveCount(150);
  await expect(messages(page).first()).toContainText("message 1");
  await expect(messages(page).nth(50)).toContainText("message 51");
  await expect(older).toHaveCount(0);
});

test("times are shown in the viewer's own time zone", async ({ browser }) => {
  const timeZone = "Asia/Kathmandu"; // UTC+05:45: no other zone's clock agrees
  const context = await browser.newContext({ timezoneId: timeZone });
  const page = await context.newPage();
  await signIn(page, unique("tz"));
  await createChannel(page, unique("tz"));
  await send(page, "what time is it?");
  const time = messages(page).first().locator("time");
  const datetime = await time.getAttribute("datetime");
  const expected = new Intl.DateTimeFormat("en-GB", {
    timeZone,
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  }).format(new Date(datetime!));
  await expect(time).toHaveText(expected);

  // A fresh load is rendered in UTC by the server, then shown locally.
  await page.reload();
  await expect(messages(page).first().locator("time")).toHaveText(expected);
});
