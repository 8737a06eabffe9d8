import { expect, test } from "@playwright/test";
import { createChannel, messages, newUser, online, send, signIn, unique } from "./helpers";

test("the first visit asks for a display name, which is remembered", async ({ page, context }) => {
  const name = unique("ada");
  // The prompt's field takes the keyboard as soon as it can be typed in.
  await page.goto("/");
  const field = page.getByLabel("Display name");
  await expect(field).toBeEnabled();
  await expect(field).toBeFocused();
  await page.keyboard.type(name);
  await page.keyboard.press("Enter");
  await expect(page.getByLabel("Signed in as").getByText(name, { exact: true })).toBeVisible();
  await expect(page.getByLabel("Display name")).toHaveCount(0);

  await page.reload();
  await expect(page.getByLabel("Signed in as").getByText(name, { exact: true })).toBeVisible();
  await expect(page.getByLabel("Display name")).toHaveCount(0);

  const second = await context.newPage();
  await second.goto("/");
  await expect(second.getByLabel("Signed in as").getByText(name, { exact: true })).toBeVisible();
  await expect(second.getByLabel("Display name")).toHaveCount(0);
  expect(await second.evaluate(() => localStorage.getItem("flack.name"))).toBe(JSON.stringify(name));
});

test("the identity token is an HttpOnly, SameSite cookie that scripts cannot read", async ({ page, context }) => {
  await signIn(page, unique("tok"));
  const cookie = (await context.cookies()).find((c) => c.name === "flack_token");
  expect(cookie).toBeDefined();
  expect(cookie!.httpOnly).toBe(true);
  expect(cookie!.sameSite).toBe("Lax");
  expect(cookie!.value).toMatch(/^[0-9a-f]{64}$/);
  expect(await page.evaluate(() => document.cookie)).not.toContain("flack_token");
});

test("a name someone holds is refused, whatever its case", async ({ page, browser }) => {
  const name = unique("Zed");
  await signIn(page, name);

  const other = await (await browser.newContext()).newPage();
  await other.goto("/");
  await other.getByLabel("Display name").fill(name.toUpperCase());
  await other.getByRole("button", { name: "Continue" }).click();
  await expect(other.getByRole("alert")).toContainText(/is taken/i);
  await expect(other.getByLabel("Display name")).toBeVisible();
  await expect(other.getByLabel("Signed in as")).toHaveCount(0);
});

test("an empty or too long name is refused with a reason", async ({ page }) => {
  await page.goto("/");
  await page.getByLabel("Display name").fill("   ");
  await page.getByRole("button", { name: "Continue" }).click();
  await expect(page.getByRole("alert")).toContainText(/enter a display name/i);

  await page.getByLabel("Display name").fill("x".repeat(33));
  await page.getByRole("button", { name: "Continue" }).click();
  await expect(page.getByRole("alert")).toContainText(/at most 32 characters/i);
  await expect(page.getByLabel("Signed in as")).toHaveCount(0);
});

test("pages are drawn for their reader by the server: the prompt for a newcomer, one's own actions for a returning user", async ({
  page,
  browser,
}) => {
  // A newcomer: the prompt is in the server's HTML, disabled until the code runs.
  const first = await (await page.request.get("/")).text();
  expect(first).toMatch(/<input id="display-name"[^>]* disabled/);

  const channel = unique("drawn");
  await signIn(page, unique("pat"));
  await createChannel(page, channel);
  await online(page);
  await send(page, "mine");
  const other = await newUser(browser, unique("quin"));
  await other.goto(`/c/${channel}`);
  await online(other);
  await send(other, "theirs");
  await expect(messages(page)).toHaveCount(2);

  // The server's HTML for me (my cookie) has Edit and Delete on my message
  // only, so hydration has nothing to redraw.
  const html = await (await page.request.get(`/c/${channel}`)).text();
  const articles = html.split("<article").slice(1);
  expect(articles).toHaveLength(2);
  expect(articles[0]).toContain("mine");
  expect(articles[0]).toContain('aria-label="Edit message"');
  expect(articles[0]).toContain('aria-label="Delete message"');
  expect(articles[1]).toContain("theirs");
  expect(articles[1]).not.toContain('aria-label="Edit message"');
  await other.context().close();
});
