import { expect, test, type Page } from "@playwright/test";
import {
  channelNav,
  createChannel,
  messageField,
  messages,
  newUser,
  online,
  openChannel,
  rawSocket,
  send,
  signIn,
  unique,
} from "./helpers";

/** Two people in one new channel, both online in it. */
async function pair(page: Page, browser: import("@playwright/test").Browser, tag: string) {
  const channel = unique(tag);
  const ann = unique("ann");
  const bob = unique("bob");
  await signIn(page, ann);
  await createChannel(page, channel);
  await online(page);
  const other = await newUser(browser, bob);
  await openChannel(other, channel);
  await online(other);
  return { channel, ann, bob, other };
}

function article(page: Page, text: string) {
  return messages(page).filter({ hasText: text });
}

test("you edit your own messages inline, and everyone sees the edit live and after a reload", async ({
  page,
  browser,
}) => {
  const { channel, other } = await pair(page, browser, "edit");
  await send(page, "teh first draft");
  await send(other, "not yours to edit");
  await expect(messages(page)).toHaveCount(2);

  // Only on one's own messages.
  await expect(article(page, "not yours to edit").getByRole("button", { name: "Edit message" })).toHaveCount(0);
  await article(page, "teh first draft").getByRole("button", { name: "Edit message" }).click();
  const editor = page.getByRole("textbox", { name: "Edit message" });
  await expect(editor).toBeFocused();
  // Escape cancels.
  await editor.fill("discarded");
  await editor.press("Escape");
  await expect(editor).toHaveCount(0);
  await expect(article(page, "teh first draft")).toBeVisible();

  await article(page, "teh first draft").getByRole("button", { name: "Edit message" }).click();
  await editor.fill("the first draft");
  await editor.press("Enter");
  await expect(editor).toHaveCount(0);
  for (const p of [page, other]) {
    await expect(article(p, "the first draft")).toContainText("(edited)");
    await expect(article(p, "teh first draft")).toHaveCount(0);
  }

  // Up in the empty composer edits my last message; Save saves.
  await messageField(page).click();
  await messageField(page).press("ArrowUp");
  await expect(editor).toHaveValue("the first draft");
  await editor.fill("the final draft");
  await page.getByRole("button", { name: "Save" }).click();
  await expect(article(other, "the final draft")).toContainText("(edited)");

  // Someone else's edit is refused on every path.
  const history = await (await other.request.post("/api/channel_history", { form: { channel } })).json();
  const seq = String(history.messages.find((m: { text: string }) => m.text === "the final draft").seq);
  const forged = await other.request.post("/api/edit_message", { form: { channel, seq, text: "forged" } });
  expect(forged.status()).toBe(403);
  expect((await forged.json()).code).toBe("not_editor");
  const socketAnswer = await rawSocket(other, { type: "edit", channel, seq: Number(seq), text: "forged" });
  expect(socketAnswer).toBe("not_editor");

  await other.reload();
  await expect(article(other, "the final draft")).toContainText("(edited)");
  await expect(article(other, "forged")).toHaveCount(0);
});

test("reactions: picked from the picker, counted, mine marked, toggled by a click, live and kept", async ({
  page,
  browser,
}) => {
  const { channel, bob, other } = await pair(page, browser, "react");
  await send(page, "react to this");
  await expect(article(other, "react to this")).toBeVisible();

  await article(page, "react to this").getByRole("button", { name: "Add reaction" }).click();
  const picker = page.getByRole("dialog", { name: "Reactions" });
  await picker.getByRole("button", { name: "thumbs up" }).click();
  await expect(picker).toHaveCount(0);

  const mine = article(page, "react to this").getByRole("button", { name: "👍 1" });
  await expect(mine).toHaveAttribute("aria-pressed", "true");
  const theirs = article(other, "react to this").getByRole("button", { name: "👍 1" });
  await expect(theirs).toHaveAttribute("aria-pressed", "false");

  await theirs.click();
  await expect(article(page, "react to this").getByRole("button", { name: "👍 2" })).toBeVisible();
  const both = article(other, "react to this").getByRole("button", { name: "👍 2" });
  await expect(both).toHaveAttribute("aria-pressed", "true");
  // Who reacted shows on focus.
  await both.focus();
  await expect(article(other, "react to this").getByRole("tooltip")).toContainText(bob);

  // Any single emoji typed.
  await article(other, "react to this").getByRole("button", { name: "Add reaction" }).click();
  await other.getByRole("dialog", { name: "Reactions" }).getByLabel("Any emoji").fill("🦀");
  await other.getByRole("dialog", { name: "Reactions" }).getByRole("button", { name: "Add" }).click();
  await expect(article(page, "react to this").getByRole("button", { name: "🦀 1" })).toBeVisible();

  // A click toggles mine off again.
  await both.click();
  await expect(article(page, "react to this").getByRole("button", { name: "👍 1" })).toBeVisible();

  await page.reload();
  await expect(article(page, "react to this").getByRole("button", { name: "👍 1" })).toHaveAttribute(
    "aria-pressed",
    "true",
  );
  await expect(article(page, "react to this").getByRole("button", { name: "🦀 1" })).toHaveAttribute(
    "aria-pressed",
    "false",
  );

  // A 10 KB "emoji" is refused with a code and changes nothing.
  const history = await (await page.request.post("/api/channel_history", { form: { channel } })).json();
  const seq = String(history.messages[0].seq);
  const huge = await page.request.post("/api/react", {
    form: { channel, seq, emoji: "x".repeat(10_000), on: "true" },
  });
  expect(huge.status()).toBe(400);
  expect((await huge.json()).code).toBe("invalid_emoji");
  for (const emoji of ["👍".repeat(2500), "<b>x</b>", "👍👎"]) {
    expect(await rawSocket(page, { type: "react", channel, seq: Number(seq), emoji, on: true })).toBe(
      "invalid_emoji",
    );
  }
  await expect(article(page, "react to this").getByRole("button", { name: /^👍 1$/ })).toBeVisible();
});

test("threads: replies go to a panel, the parent counts them live, and a reload keeps the thread open", async ({
  page,
  browser,
}) => {
  const { channel, other } = await pair(page, browser, "thread");
  await send(page, "what shall we build?");
  await expect(article(other, "what shall we build?")).toBeVisible();

  await article(page, "what shall we build?").getByRole("button", { name: "Reply in thread" }).click();
  const thread = page.getByRole("complementary", { name: "Thread" });
  await expect(thread.getByRole("log", { name: "Thread messages" })).toContainText("what shall we build?");
  const reply = thread.getByRole("textbox", { name: "Reply" });
  await reply.fill("a chat in one binary");
  await reply.press("Enter");
  await expect(thread.getByRole("log", { name: "Thread messages" }).getByRole("article")).toHaveCount(2);

  // The other person sees the count, not the reply, in the channel.
  const count = article(other, "what shall we build?").getByRole("button", { name: "1 replies" });
  await expect(count).toBeVisible();
  await expect(article(other, "a chat in one binary")).toHaveCount(0);
  await expect(messages(other)).toHaveCount(1);

  await count.click();
  const theirs = other.getByRole("complementary", { name: "Thread" });
  await expect(theirs.getByRole("log", { name: "Thread messages" })).toContainText("a chat in one binary");
  await theirs.getByRole("textbox", { name: "Reply" }).fill("with threads");
  await theirs.getByRole("textbox", { name: "Reply" }).press("Enter");
  // Live in the first person's open thread and on the parent.
  await expect(thread.getByRole("log", { name: "Thread messages" })).toContainText("with threads");
  await expect(article(page, "what shall we build?").getByRole("button", { name: "2 replies" })).toBeVisible();

  await other.reload();
  await expect(
    other.getByRole("complementary", { name: "Thread" }).getByRole("log", { name: "Thread messages" }),
  ).toContainText("with threads");
  await expect(messages(other)).toHaveCount(1);

  // Threads do not nest: a reply to a reply is refused.
  const history = await (await page.request.post("/api/channel_history", { form: { channel } })).json();
  const parent = history.messages[0].seq;
  const threadJson = await (await page.request.post("/api/thread", { form: { channel, parent: String(parent) } })).json();
  const firstReply = threadJson.replies[0].seq;
  expect(await rawSocket(page, { type: "send", channel, text: "nested", thread: firstReply })).toBe("invalid_thread");
  // A link to a reply opens the thread it is in.
  await other.goto(`/c/${channel}?thread=${firstReply}`);
  const linked = other.getByRole("complementary", { name: "Thread" }).getByRole("log", { name: "Thread messages" });
  await expect(linked).toContainText("what shall we build?");
  await expect(linked.getByRole("article")).toHaveCount(3);

  await thread.getByRole("button", { name: "Close thread" }).click();
  await expect(page.getByRole("complementary", { name: "Thread" })).toHaveCount(0);
});

test("formatting: Markdown becomes elements, and hostile input stays text and runs nothing", async ({
  page,
  browser,
}) => {
  const { channel, other } = await pair(page, browser, "fmt");
  await other.addInitScript(() => {
    (window as unknown as { __xss: number }).__xss = 0;
  });
  await send(page, "**bold** and *em* and `code` see https://example.com/docs.");
  await messageField(page).fill("```\nfn main() {}\n```");
  await messageField(page).press("Enter");
  const hostile = [
    "<img src=x onerror=window.__xss=1>",
    "[click me](javascript:window.__xss=2)",
    "```\n<script>window.__xss=3</script> never closed",
  ];
  for (const text of hostile) {
    await messageField(page).fill(text);
    await messageField(page).press("Enter");
  }
  await expect(messages(other)).toHaveCount(5);

  for (const p of [page, other]) {
    const first = messages(p).first();
    await expect(first.locator("strong")).toHaveText("bold");
    await expect(first.locator("em")).toHaveText("em");
    await expect(first.locator("code")).toHaveText("code");
    const link = first.getByRole("link", { name: "https://example.com/docs" });
    await expect(link).toHaveAttribute("href", "https://example.com/docs");
    await expect(link).toHaveAttribute("target", "_blank");
    await expect(link).toHaveAttribute("rel", /noopener/);
    await expect(messages(p).nth(1).locator("pre code")).toHaveText("fn main() {}");
    // Hostile input is shown as the text typed.
    await expect(messages(p).nth(2)).toContainText("<img src=x onerror=window.__xss=1>");
    await expect(messages(p).nth(3)).toContainText("[click me](javascript:window.__xss=2)");
    await expect(messages(p).nth(3).getByRole("link")).toHaveCount(0);
    await expect(messages(p).nth(4)).toContainText("<script>window.__xss=3</script> never closed");
    await expect(p.getByRole("log", { name: "Messages", exact: true }).locator("img, script")).toHaveCount(0);
  }
  await other.reload();
  await expect(messages(other)).toHaveCount(5);
  await messages(other).nth(3).getByText("click me", { exact: false }).click();
  expect(await other.evaluate(() => (window as unknown as { __xss: number }).__xss)).toBe(0);

  // The server-rendered page has the same elements, and no live markup.
  const html = await (await page.request.get(`/c/${channel}`)).text();
  expect(html).toMatch(/<strong>bold(<!>)*<\/strong>/);
  expect(html).toMatch(/<pre><code>fn main\(\) \{\}(<!>)*<\/code>/);
  expect(html).toContain("&lt;img src=x onerror=window.__xss=1&gt;");
  expect(html).not.toContain("<img src=x");
  expect(html).not.toContain('href="javascript');
  // And hydrating it changes nothing (no hydration errors).
  const errors: string[] = [];
  other.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") errors.push(m.text());
  });
  await other.reload();
  await online(other);
  expect(errors.filter((e) => /hydrat/i.test(e))).toEqual([]);
});

test("mentions: @ offers names, the mentioned person sees it marked and counted in the channel list", async ({
  page,
  browser,
}) => {
  const { channel, bob, other } = await pair(page, browser, "ment");
  await send(other, "hello from bob");
  await expect(article(page, "hello from bob")).toBeVisible();

  // Bob goes to another channel; the mention is counted there.
  const elsewhere = unique("else");
  await createChannel(other, elsewhere);
  await online(other);

  await messageField(page).fill("hey @" + bob.slice(0, 4));
  const list = page.getByRole("listbox", { name: "Mention suggestions" });
  await expect(list.getByRole("option", { name: "@" + bob })).toBeVisible();
  await messageField(page).press("Enter");
  await expect(messageField(page)).toHaveValue(`hey @${bob} `);
  await messageField(page).press("End");
  await messageField(page).type("look at this");
  await messageField(page).press("Enter");
  await expect(article(page, "look at this")).toBeVisible();
  // Not marked for the author.
  await expect(article(page, "look at this")).not.toContainText("mentions you");

  const link = channelNav(other).getByRole("link", { name: new RegExp(`${channel}.*1 mentions`) });
  await expect(link).toBeVisible();
  await openChannel(other, channel);
  await expect(article(other, "look at this")).toContainText("mentions you");
  await expect(channelNav(other).getByRole("link", { name: /mentions/ })).toHaveCount(0);
  await expect(article(other, "look at this").locator(".mention")).toHaveText("@" + bob);
  await other.reload();
  await expect(article(other, "look at this")).toContainText("mentions you");

  // Escape closes the suggestions.
  await messageField(page).fill("@");
  await expect(list).toBeVisible();
  await messageField(page).press("Escape");
  await expect(list).toBeHidden();
});

test("a mention raises a notification while the tab is hidden, only after permission is asked by a click", async ({
  page,
  browser,
}) => {
  const channel = unique("note");
  const bob = unique("bob");
  const context = await browser.newContext();
  await context.grantPermissions(["notifications"]);
  await context.addInitScript(() => {
    const w = window as unknown as Record<string, unknown>;
    w.__asked = 0;
    w.__notes = [];
    w.__hidden = false;
    const Real = window.Notification;
    class Spy extends Real {
      constructor(title: string, options?: NotificationOptions) {
        super(title, options);
        (w.__notes as unknown[]).push({ title, body: options?.body, note: this });
      }
      static requestPermission(...args: []) {
        (w.__asked as number)++;
        return Real.requestPermission(...args);
      }
    }
    (window as unknown as { Notification: unknown }).Notification = Spy;
    Object.defineProperty(document, "hidden", { get: () => w.__hidden === true, configurable: true });
  });
  const other = await context.newPage();
  await signIn(other, bob);
  await signIn(page, unique("ann"));
  await createChannel(page, channel);
  const elsewhere = unique("away");
  await createChannel(other, elsewhere);
  await openChannel(other, channel);
  await online(other);
  expect(await other.evaluate(() => (window as unknown as { __asked: number }).__asked)).toBe(0);
  // Granted in this context already: the page says so rather than ask.
  await expect(other.getByText("Notifications are on for mentions.")).toBeVisible();

  await send(page, "the first message");
  await expect(article(other, "the first message")).toBeVisible();
  await other.evaluate(() => {
    (window as unknown as { __hidden: boolean }).__hidden = true;
  });
  await send(page, `@${bob} the build is red`);
  await send(page, "not for anyone");
  await expect(article(other, "not for anyone")).toBeVisible();
  const notes = await other.evaluate(() =>
    ((window as unknown as { __notes: { title: string; body: string }[] }).__notes).map((n) => ({
      title: n.title,
      body: n.body,
    })),
  );
  expect(notes).toHaveLength(1);
  expect(notes[0].title).toContain("mentioned you");
  expect(notes[0].body).toContain("the build is red");

  // A click on it opens the channel at that message.
  await openChannel(other, elsewhere);
  await other.evaluate(() => {
    const w = window as unknown as { __notes: { note: Notification }[] };
    w.__notes[0].note.onclick?.(new Event("click"));
  });
  await expect(other).toHaveURL(new RegExp(`/c/${channel}\\?m=\\d+$`));
  await expect(article(other, "the build is red")).toBeInViewport();

  // Without permission, the button asks, and only when clicked.
  const asking = await browser.newContext();
  await asking.addInitScript(() => {
    const w = window as unknown as Record<string, unknown>;
    w.__asked = 0;
    const real = Notification.requestPermission.bind(Notification);
    Notification.requestPermission = (() => {
      (w.__asked as number)++;
      return real();
    }) as typeof Notification.requestPermission;
  });
  const third = await asking.newPage();
  await signIn(third, unique("cy"));
  const button = third.getByRole("button", { name: "Enable notifications" });
  await expect(button).toBeVisible();
  expect(await third.evaluate(() => (window as unknown as { __asked: number }).__asked)).toBe(0);
  await button.press("Enter"); // below the channel list, which other tests move
  await expect.poll(() => third.evaluate(() => (window as unknown as { __asked: number }).__asked)).toBe(1);
});
