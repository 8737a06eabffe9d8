import { expect, test, type Browser, type Page } from "@playwright/test";
import { channelNav, createChannel, flood, messageField, messages, newUser, online, openChannel, send, signIn, unique } from "./helpers";

function link(page: Page, channel: string) {
  return channelNav(page).getByRole("link", { name: new RegExp(`^#?\\s*${channel}`) });
}

/** Three people: ann (the test's page) made two channels; bob and cy are in the first. */
async function three(page: Page, browser: Browser, tag: string) {
  const busy = unique(tag);
  const quiet = unique("quiet");
  const ann = unique("ann");
  const bob = unique("bob");
  const cy = unique("cy");
  await signIn(page, ann);
  await createChannel(page, quiet);
  await createChannel(page, busy);
  await online(page);
  const bobPage = await newUser(browser, bob);
  const cyPage = await newUser(browser, cy);
  return { busy, quiet, ann, bob, cy, bobPage, cyPage };
}

test("unread counts per channel, the same in every tab of mine, and a divider where the new messages start", async ({
  page,
  browser,
}) => {
  const { busy, quiet, bobPage, cyPage } = await three(page, browser, "unread");
  // A channel for a marker message later, known to every tab opened from
  // here on.
  const marker = unique("marker");
  await createChannel(cyPage, marker);
  // Bob reads the busy channel once, then goes elsewhere.
  await openChannel(bobPage, busy);
  await online(bobPage);
  await send(page, "before you left");
  await expect(messages(bobPage).filter({ hasText: "before you left" })).toBeVisible();
  await openChannel(bobPage, quiet);
  // A second tab of Bob's (same browser, same identity).
  const bobTab = await bobPage.context().newPage();
  await bobTab.goto(`/c/${quiet}`);
  await online(bobTab);

  for (const text of ["one", "two", "three"]) await send(page, text);
  await send(page, `hey @${await bobName(bobPage)} look`);
  for (const p of [bobPage, bobTab]) {
    await expect(link(p, busy)).toHaveAccessibleName(new RegExp(`${busy}\\s*, 4 unread, 1 mentions`));
  }
  // Cy never opened it: everything by others is unread.
  await expect(link(cyPage, busy)).toHaveAccessibleName(new RegExp(`${busy}\\s*, 5 unread`));
  // The author's own messages never count for her.
  await expect(link(page, quiet)).toHaveAccessibleName(new RegExp(`^#?\\s*${quiet}$`));

  // Opening it: the divider sits above the first unread message, and the
  // counts are gone, in both of Bob's tabs.
  await openChannel(bobPage, busy);
  const divider = bobPage.getByRole("log", { name: "Messages" }).getByRole("separator", { name: "New messages" });
  await expect(divider).toBeVisible();
  const after = await divider.evaluate((d) => d.nextElementSibling?.textContent ?? "");
  expect(after).toContain("one");
  await expect(link(bobTab, busy)).toHaveAccessibleName(new RegExp(`^#?\\s*${busy}$`));
  // Looking at the channel, new messages do not count up; a reload shows
  // no divider (everything is read).
  await send(page, "while you look");
  await expect(messages(bobPage).filter({ hasText: "while you look" })).toBeVisible();
  // A message elsewhere, sent after "while you look" and counted in Bob's
  // other tab, shows that the counts were worked out since: still none
  // for busy there.
  await flood(cyPage, marker, "marker", 1);
  await expect(link(bobTab, marker)).toHaveAccessibleName(new RegExp(`${marker}\\s*, 1 unread`));
  await expect(link(bobTab, busy)).toHaveAccessibleName(new RegExp(`^#?\\s*${busy}$`));
  await bobPage.reload();
  await expect(messages(bobPage).filter({ hasText: "while you look" })).toBeVisible();
  await expect(bobPage.getByRole("separator", { name: "New messages" })).toHaveCount(0);
});

async function bobName(page: Page): Promise<string> {
  return (await page.getByLabel("Signed in as").locator("strong").textContent()) ?? "";
}

test("someone typing shows for the others, and goes when they send or clear the field", async ({ page, browser }) => {
  const { busy, ann, bobPage, cyPage } = await three(page, browser, "typing");
  await openChannel(bobPage, busy);
  await openChannel(cyPage, busy);
  await online(bobPage);
  await online(cyPage);
  const typing = (p: Page) => p.getByRole("status").filter({ hasText: "typing" });

  await messageField(page).pressSequentially("half a tho");
  for (const p of [bobPage, cyPage]) await expect(typing(p)).toHaveText(`${ann} is typing\u2026`);
  // Not to the one typing.
  await expect(typing(page)).toHaveCount(0);
  // Cleared: gone.
  await messageField(page).fill("");
  for (const p of [bobPage, cyPage]) await expect(typing(p)).toHaveCount(0);
  // Two at once, then one sends: the other stays.
  await messageField(page).pressSequentially("a whole thought");
  await messageField(cyPage).pressSequentially("me too");
  await expect(typing(bobPage)).toHaveText(/ and .* are typing\u2026/);
  await messageField(page).press("Enter");
  await expect(messages(bobPage).filter({ hasText: "a whole thought" })).toBeVisible();
  await expect(typing(bobPage)).not.toContainText(ann);
  await expect(typing(bobPage)).toContainText("is typing");
  // Stopped without clearing: gone after about five seconds.
  await expect(typing(bobPage)).toHaveCount(0, { timeout: 8_000 });
});

test("the members panel shows who is in the channel and who is online, live", async ({ page, browser }) => {
  const { busy, ann, bob, cy, bobPage, cyPage } = await three(page, browser, "members");
  await openChannel(bobPage, busy);
  await openChannel(cyPage, busy);
  await online(cyPage);
  const toggle = page.getByRole("button", { name: /Members/ });
  await toggle.click();
  await expect(toggle).toHaveAttribute("aria-expanded", "true");
  const panel = page.getByRole("complementary", { name: "Members" });
  const list = panel.getByRole("list", { name: "Members" });
  await expect(list.getByRole("listitem")).toHaveCount(3);
  for (const name of [ann, bob, cy]) {
    await expect(list.getByRole("listitem").filter({ hasText: name })).toContainText("online");
  }
  await expect(panel).toContainText("3 members, 3 online");
  // Cy closes the last tab: offline within seconds, still a member.
  await cyPage.context().close();
  await expect(list.getByRole("listitem").filter({ hasText: cy })).toContainText("offline", { timeout: 5_000 });
  await expect(panel).toContainText("3 members, 2 online");
  await panel.getByRole("button", { name: "Close members" }).click();
  await expect(panel).toHaveCount(0);
});
