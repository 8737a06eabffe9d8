import { test, expect, type Page } from "@playwright/test";
import AxeBuilder from "@axe-core/playwright";
import { createChannel, flood, messages, online, send, signIn, submitNewChannel, unique } from "./helpers";

// axe-core (WCAG 2.0-2.2 A and AA, and its best-practice rules) finds no
// violation in any state a user meets: the first visit, a channel with
// messages of one's own and others' (desktop and phone, light and dark),
// a thread open, search results, an error alert.

async function noViolations(page: Page, state: string): Promise<void> {
  const { violations } = await new AxeBuilder({ page })
    .withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"])
    .analyze();
  const found = violations.map((v) => ({
    rule: v.id,
    impact: v.impact,
    help: v.help,
    nodes: v.nodes.map((n) => `${n.target.join(" ")}: ${n.failureSummary}`),
  }));
  expect(found, `axe violations in ${state}`).toEqual([]);
}

test("the first visit has no accessibility violations", async ({ page }) => {
  await page.goto("/");
  await expect(page.getByLabel("Display name")).toBeVisible();
  await noViolations(page, "the first visit");
});

for (const scheme of ["light", "dark"] as const) {
  for (const [device, viewport] of [
    ["desktop", { width: 1280, height: 800 }],
    ["phone", { width: 390, height: 844 }],
  ] as const) {
    test(`a channel on a ${device} in ${scheme} mode has no accessibility violations`, async ({ browser }) => {
      const context = await browser.newContext({ colorScheme: scheme, viewport });
      const page = await context.newPage();
      const other = await (await browser.newContext()).newPage();
      const channel = unique("axe");
      await signIn(other, unique("Bea"));
      await createChannel(other, channel);
      await online(other);
      await flood(other, channel, "Formatted **text** with `code` and https://example.com", 3);
      await signIn(page, unique("Ada"));
      await page.goto(`/c/${channel}`);
      await online(page);
      await send(page, "mine, with a reaction and a thread");
      const mine = messages(page).filter({ hasText: "mine, with a reaction" });
      await mine.getByRole("button", { name: "Add reaction" }).click();
      await page.getByRole("button", { name: "thumbs up" }).click();
      await expect(mine.getByRole("button", { name: /👍 1/ })).toBeVisible();
      await noViolations(page, `a channel (${device}, ${scheme})`);

      await mine.getByRole("button", { name: "Reply in thread" }).click();
      const thread = page.getByRole("complementary", { name: "Thread" });
      await thread.getByRole("textbox", { name: "Reply" }).fill("a reply");
      await thread.getByRole("textbox", { name: "Reply" }).press("Enter");
      await expect(thread.getByRole("log", { name: "Thread messages" }).getByRole("article")).toHaveCount(2);
      await noViolations(page, `a thread open (${device}, ${scheme})`);
      await context.close();
      await other.context().close();
    });
  }
}

test("search results and an error alert have no accessibility violations", async ({ page }) => {
  const channel = unique("axe-search");
  const word = unique("needle").replace("-", "");
  await signIn(page, unique("Cy"));
  await createChannel(page, channel);
  await online(page);
  await send(page, `a ${word} in the haystack`);
  await page.getByRole("searchbox", { name: "Search messages" }).fill(word);
  await page.getByRole("searchbox", { name: "Search messages" }).press("Enter");
  await expect(page.getByRole("list", { name: "Search results" }).getByRole("link")).toHaveCount(1);
  await noViolations(page, "search results");

  await submitNewChannel(page, channel);
  await expect(page.getByRole("alert")).toContainText(/already exists/i);
  await noViolations(page, "an error alert");
});
