import { expect, test } from "@playwright/test";
import { channelNav, createChannel, newUser, openChannel, signIn, submitNewChannel, unique } from "./helpers";

test("a new channel appears in everyone's list without a reload", async ({ page, browser }) => {
  await signIn(page, unique("ann"));
  const other = await newUser(browser, unique("ben"));
  const channel = unique("news");

  await createChannel(page, channel);
  const link = channelNav(other).getByRole("link", { name: channel });
  await expect(link).toBeVisible();
  await expect(link).toHaveAttribute("href", `/c/${channel}`);
});

test("choosing a channel in the list opens it and marks it current", async ({ page }) => {
  await signIn(page, unique("cat"));
  const first = unique("first");
  const second = unique("second");
  await createChannel(page, first);
  await createChannel(page, second);

  await openChannel(page, first);
  await expect(page).toHaveURL(new RegExp(`/c/${first}$`));
  await expect(channelNav(page).getByRole("link", { name: first })).toHaveAttribute("aria-current", "page");
  await expect(channelNav(page).getByRole("link", { name: second })).not.toHaveAttribute("aria-current", "page");
});

test("a taken channel name is refused, whatever its case", async ({ page }) => {
  await signIn(page, unique("dan"));
  const channel = unique("dup");
  await createChannel(page, channel);

  await submitNewChannel(page, channel.toUpperCase());
  await expect(page.getByRole("alert")).toContainText(/already exists/i);
  await expect(channelNav(page).getByRole("link", { name: channel })).toHaveCount(1);
});

test("channel names break no rules: bad ones are refused, upper case is lowered", async ({ page }) => {
  await signIn(page, unique("eve"));
  await submitNewChannel(page, "no spaces here");
  await expect(page.getByRole("alert")).toContainText(/only letters a-z, digits/i);

  await submitNewChannel(page, "x".repeat(81));
  await expect(page.getByRole("alert")).toContainText(/at most 80 characters/i);

  // With the pointer this time. Another test's new channel can push the
  // button down between Playwright finding it and the mouse landing: then
  // the click misses and is made again, as a person would.
  const channel = unique("Mixed");
  await page.getByLabel("New channel name").fill(channel);
  await expect(async () => {
    await page.getByRole("button", { name: "Create channel" }).click();
    await expect(page.getByRole("heading", { level: 1, name: channel.toLowerCase() })).toBeVisible({ timeout: 2_000 });
  }).toPass({ timeout: 15_000 });
  await expect(page).toHaveURL(new RegExp(`/c/${channel.toLowerCase()}$`));
});
