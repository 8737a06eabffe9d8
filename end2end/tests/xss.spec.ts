import { expect, test } from "@playwright/test";
import { createChannel, messages, newUser, online, openChannel, send, unique } from "./helpers";

test("HTML in names and messages shows as text and never runs", async ({ browser }) => {
  const evil = `<img src=x onerror=alert(1)>${Math.random().toString(36).slice(2, 5)}`;
  const channel = unique("xss");
  const dialogs: string[] = [];

  const attacker = await newUser(browser, evil);
  attacker.on("dialog", (d) => dialogs.push(d.message()));
  await createChannel(attacker, channel);
  const viewer = await newUser(browser, unique("vic"));
  viewer.on("dialog", (d) => dialogs.push(d.message()));
  await openChannel(viewer, channel);
  await online(viewer);

  await send(attacker, "<script>alert('script')</script>");
  await send(attacker, "<img src=x onerror=alert('img')>");
  for (const page of [attacker, viewer]) {
    await expect(messages(page)).toHaveCount(2);
    await expect(messages(page).nth(0)).toContainText("<script>alert('script')</script>");
    await expect(messages(page).nth(1)).toContainText("<img src=x onerror=alert('img')>");
    await expect(messages(page).nth(0)).toContainText(evil);
    await expect(page.getByRole("log", { name: "Messages", exact: true }).locator("img, script")).toHaveCount(0);
  }
  await expect(attacker.getByLabel("Signed in as").getByText(evil, { exact: true })).toBeVisible();

  // And after a fresh, server-rendered load.
  await viewer.reload();
  await expect(messages(viewer)).toHaveCount(2);
  await expect(viewer.getByRole("log", { name: "Messages", exact: true }).locator("img, script")).toHaveCount(0);
  expect(dialogs).toEqual([]);
});
