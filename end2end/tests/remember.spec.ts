import { expect, test } from "@playwright/test";
import { channelNav, createChannel, openChannel, signIn, unique } from "./helpers";

test("coming back to / returns to the channel you were in", async ({ page, context }) => {
  const channel = unique("home");
  await signIn(page, unique("ida"));
  await createChannel(page, channel);
  await createChannel(page, unique("other"));
  await openChannel(page, channel);
  await page.close();

  const again = await context.newPage();
  await again.goto("/");
  await expect(again).toHaveURL(new RegExp(`/c/${channel}$`));
  await expect(again.getByRole("heading", { level: 1, name: channel })).toBeVisible();
});

test("a remembered channel that no longer exists leads to the channel list", async ({ page }) => {
  await signIn(page, unique("jon"));
  await page.evaluate(() => localStorage.setItem("flack.channel", JSON.stringify("gone-for-good")));
  await page.goto("/");
  await expect(page.getByRole("heading", { level: 1, name: /welcome/i })).toBeVisible();
  await expect(channelNav(page)).toBeVisible();
  await expect(page).toHaveURL(/\/$/);
  expect(await page.evaluate(() => localStorage.getItem("flack.channel"))).toBeNull();
});
