import { expect, test } from "@playwright/test";
import { createChannel, messages, newUser, openChannel, send, signIn, unique } from "./helpers";

test("signing out frees the name, and whoever claims it next has no power over the earlier holder's messages", async ({
  page,
  browser,
}) => {
  const name = unique("ada");
  const channel = unique("take");
  await signIn(page, name);
  await createChannel(page, channel);
  await send(page, "written by the first holder");
  await expect(messages(page)).toHaveCount(1);
  // (CSS, not roles: the name prompt that comes next is a modal dialog.)
  const shown = page.locator('[role="log"][aria-label="Messages"] article');
  const ownActions = shown.locator('button[aria-label="Delete message"]');
  await expect(ownActions).toHaveCount(1);

  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page.getByLabel("Display name")).toBeVisible();
  // The message is still shown, no longer as the reader's own.
  await expect(shown).toHaveCount(1);
  await expect(ownActions).toHaveCount(0);
  await expect(page.getByLabel("Signed in as")).toHaveCount(0);
  expect((await page.context().cookies()).find((c) => c.name === "flack_token")).toBeUndefined();

  // Someone else takes the name that is now free.
  const mallory = await newUser(browser, name);
  await openChannel(mallory, channel);
  const theirs = messages(mallory).filter({ hasText: "written by the first holder" });
  await expect(theirs).toHaveCount(1);
  await expect(theirs.getByRole("button", { name: "Delete message" })).toHaveCount(0);

  // Forging the request is refused, clearly, and changes nothing.
  const history = await (await mallory.request.post("/api/channel_history", { form: { channel } })).json();
  const reply = await mallory.request.post("/api/delete_message", {
    form: { channel, seq: String(history.messages[0].seq) },
  });
  expect(reply.status()).toBe(403);
  expect(await reply.json()).toMatchObject({
    code: "not_author",
    message: "You can delete only your own messages.",
  });
  await mallory.reload();
  await expect(messages(mallory)).toHaveCount(1);
});

test("a page on another site cannot sign the user in or out", async ({ page, baseURL }) => {
  const name = unique("vic");
  await signIn(page, name);
  const token = async () => (await page.context().cookies()).find((c) => c.name === "flack_token")?.value;
  const before = await token();
  expect(before).toBeDefined();

  // A page of another site, in the same browser, posts forms to Flack.
  const evil = await page.context().newPage();
  await evil.route("http://evil.test/**", (route) =>
    route.fulfill({
      contentType: "text/html",
      body: `<!doctype html><title>evil</title>
        <form id="claim" method="post" action="${baseURL}/api/claim_name"><input name="name" value="pwned"></form>
        <form id="out" method="post" action="${baseURL}/api/sign_out"></form>`,
    }),
  );
  for (const [form, endpoint] of [
    ["claim", "/api/claim_name"],
    ["out", "/api/sign_out"],
  ]) {
    await evil.goto("http://evil.test/");
    const [response] = await Promise.all([
      evil.waitForResponse((r) => r.url().endsWith(endpoint)),
      evil.evaluate((id) => (document.getElementById(id) as HTMLFormElement).submit(), form),
    ]);
    expect(response.status()).toBe(403);
    expect(await response.json()).toMatchObject({ code: "cross_site" });
  }

  // Nothing changed: the same identity, still signed in under its name.
  expect(await token()).toBe(before);
  await page.reload();
  await expect(page.getByLabel("Signed in as").getByText(name, { exact: true })).toBeVisible();
});
