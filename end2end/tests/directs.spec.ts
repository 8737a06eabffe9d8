import { expect, test, type Page } from "@playwright/test";
import { createChannel, flood, messages, newUser, online, openChannel, rawSocket, send, signIn, unique } from "./helpers";

function dmNav(page: Page) {
  return page.getByRole("navigation", { name: "Direct messages" });
}

test("a direct message reaches only its two people, by every path", async ({ page, browser }) => {
  const channel = unique("dm");
  const ann = unique("ann");
  const bob = unique("bob");
  const cy = unique("cy");
  await signIn(page, ann);
  await createChannel(page, channel);
  await online(page);
  const bobPage = await newUser(browser, bob);
  await openChannel(bobPage, channel);
  await online(bobPage);
  const cyPage = await newUser(browser, cy);

  // From the members list: "Message <name>".
  await page.getByRole("button", { name: /Members/ }).click();
  await page.getByRole("button", { name: `Message ${bob}` }).click();
  await expect(page).toHaveURL(new RegExp(`/dm/${bob}$`));
  await expect(page.getByRole("heading", { level: 1, name: bob })).toBeVisible();
  await expect(page).toHaveTitle(new RegExp(`@${bob}`));
  await send(page, "the secret plan");
  await expect(messages(page).filter({ hasText: "the secret plan" })).toBeVisible();

  // Bob: listed under "Direct messages" by Ann's name, with the unread count.
  const link = dmNav(bobPage).getByRole("link", { name: new RegExp(ann) });
  await expect(link).toHaveAccessibleName(new RegExp(`${ann}\\s*, 1 unread`));
  // From the keyboard: the list sits below the channel list, which other
  // tests' new channels push down under a pointer.
  await link.press("Enter");
  await expect(bobPage).toHaveURL(new RegExp(`/dm/${ann}$`));
  await expect(messages(bobPage).filter({ hasText: "the secret plan" })).toBeVisible();
  await send(bobPage, "count me in");
  await expect(messages(page).filter({ hasText: "count me in" })).toBeVisible();
  await expect(dmNav(bobPage).getByRole("link", { name: new RegExp(ann) })).toHaveAccessibleName(
    new RegExp(`^@?\\s*${ann}$`),
  );

  // Cy: not listed, not by URL, not by search, not by a raw socket.
  await expect(dmNav(cyPage).getByRole("link")).toHaveCount(0);
  const key = (await (await page.request.post("/api/open_direct", { form: { name: bob } })).json()).name as string;
  await cyPage.goto(`/c/${encodeURIComponent(key)}`);
  await expect(cyPage.getByRole("alert")).toContainText("There is no channel named");
  await expect(cyPage.getByText("the secret plan")).toHaveCount(0);
  const html = await (await cyPage.request.get(`/c/${encodeURIComponent(key)}`)).text();
  expect(html).not.toContain("the secret plan");
  for (const frame of [
    { type: "join", channel: key },
    { type: "send", channel: key, text: "let me in" },
    { type: "read", channel: key, seq: 1 },
  ]) {
    expect(await rawSocket(cyPage, frame)).toBe("unknown_channel");
  }
  const history = await cyPage.request.post("/api/channel_history", { form: { channel: key } });
  expect(history.status()).toBe(404);
  expect(await history.text()).not.toContain("secret");
  await cyPage.getByRole("searchbox", { name: "Search messages" }).fill("secret");
  await cyPage.getByRole("searchbox", { name: "Search messages" }).press("Enter");
  await expect(cyPage.getByText("No messages have all of these words.")).toBeVisible();
  // Cy's own conversation with Bob is a different, empty one.
  await cyPage.goto(`/dm/${bob}`);
  await expect(cyPage.getByRole("heading", { level: 1, name: bob })).toBeVisible();
  await expect(cyPage.getByText("No messages yet. Say hello!")).toBeVisible();
  // Ann finds it by search, and the result opens it at the message.
  await page.getByRole("searchbox", { name: "Search messages" }).fill("secret");
  await page.getByRole("searchbox", { name: "Search messages" }).press("Enter");
  const results = page.getByRole("list", { name: "Search results" });
  await expect(results.getByRole("link")).toHaveCount(1);
  await results.getByRole("link").click();
  await expect(page).toHaveURL(new RegExp(`/dm/${bob}\\?m=\\d+`));
  await expect(page.locator(".message.highlighted")).toContainText("the secret plan");
});

test("search finds an old message beyond the last 100 and opens the channel there, highlighted", async ({ page }) => {
  test.setTimeout(90_000);
  const channel = unique("find");
  // A word no other test (or earlier run on the same server) wrote.
  const word = `zq${Math.random().toString(36).slice(2, 12)}`;
  await signIn(page, unique("sam"));
  await createChannel(page, channel);
  await online(page);
  await send(page, `the ${word} crossing`);
  await flood(page, channel, "filler", 130);
  await expect(messages(page).last()).toContainText("filler 130");
  await expect(messages(page).filter({ hasText: word })).toHaveCount(0);

  const box = page.getByRole("search").getByRole("searchbox", { name: "Search messages" });
  await box.fill(word.toUpperCase().slice(0, 9));
  await box.press("Enter");
  await expect(page).toHaveURL(/\/search\?q=/);
  const results = page.getByRole("list", { name: "Search results" });
  await expect(results.getByRole("link")).toHaveCount(1);
  const hit = results.getByRole("link");
  await expect(hit).toContainText(`#${channel}`);
  await expect(hit.locator("mark")).toHaveText(word.slice(0, 9));
  await expect(hit).toHaveAttribute("href", new RegExp(`^/c/${channel}\\?m=\\d+$`));
  await hit.click();
  const found = page.locator(".message.highlighted");
  await expect(found).toContainText(`the ${word} crossing`);
  await expect(found).toBeInViewport();
  // The messages after it are a click away.
  await page.getByRole("button", { name: "Load newer messages" }).click();
  await expect(messages(page).filter({ hasText: "filler 30" }).first()).toBeAttached();
  // Markup in a search is only text.
  await box.fill("<img src=x onerror=alert(1)>");
  await box.press("Enter");
  await expect(page.getByRole("heading", { level: 1, name: "Search" })).toBeVisible();
  await expect(page.locator("img")).toHaveCount(0);
});

test("the quick switcher jumps to a channel or a person by keyboard alone", async ({ page, browser }) => {
  const channel = unique("jump");
  const other = unique("zed");
  const bob = await newUser(browser, other);
  await signIn(page, unique("kim"));
  await createChannel(page, channel);
  await openChannel(page, channel);
  await page.goto("/");
  // Keys reach the app once it runs (hydrated and connected).
  await online(page);
  await page.keyboard.press("Control+k");
  const dialog = page.getByRole("dialog", { name: "Jump to" });
  await expect(dialog).toBeVisible();
  const box = dialog.getByRole("combobox", { name: "Jump to" });
  await expect(box).toBeFocused();
  await page.keyboard.type(channel.slice(0, 10));
  await expect(dialog.getByRole("option").first()).toHaveText(`#${channel}`);
  await page.keyboard.press("Enter");
  await expect(dialog).toHaveCount(0);
  await expect(page.getByRole("heading", { level: 1, name: channel })).toBeVisible();
  // A person, with the arrows; Escape closes. (Typed once the box has
  // the keyboard, as a person would: keys pressed in the same frame as
  // Control+K, before the box is focused, go to the page.)
  await page.keyboard.press("Control+k");
  await expect(box).toBeFocused();
  await page.keyboard.type(other.slice(0, 8));
  await expect(dialog.getByRole("option", { name: `@${other}` })).toBeVisible();
  await page.keyboard.press("Escape");
  await expect(dialog).toHaveCount(0);
  await page.keyboard.press("Control+k");
  await expect(box).toBeFocused();
  await page.keyboard.type(other);
  await expect(dialog.getByRole("option")).toHaveCount(1);
  await page.keyboard.press("ArrowDown");
  await page.keyboard.press("ArrowUp");
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(new RegExp(`/dm/${other}$`));
  await expect(page.getByRole("heading", { level: 1, name: other })).toBeVisible();
  await bob.close();
});
