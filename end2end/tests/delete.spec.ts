import { expect, test } from "@playwright/test";
import { createChannel, messages, newUser, online, openChannel, send, signIn, unique } from "./helpers";

test("you can delete your own messages only, and they vanish for everyone", async ({ page, browser }) => {
  const channel = unique("del");
  await signIn(page, unique("kim"));
  await createChannel(page, channel);
  const other = await newUser(browser, unique("lou"));
  await openChannel(other, channel);
  await online(other);

  await send(page, "a regrettable message");
  await send(other, "a reply");
  await expect(messages(other)).toHaveCount(2);
  await expect(messages(page)).toHaveCount(2);

  const mine = messages(page).filter({ hasText: "a regrettable message" });
  const theirs = messages(page).filter({ hasText: "a reply" });
  await expect(mine.getByRole("button", { name: "Delete message" })).toBeVisible();
  await expect(theirs.getByRole("button", { name: "Delete message" })).toHaveCount(0);
  await expect(
    messages(other).filter({ hasText: "a regrettable message" }).getByRole("button", { name: "Delete message" }),
  ).toHaveCount(0);

  await mine.getByRole("button", { name: "Delete message" }).click();
  await expect(messages(other).filter({ hasText: "a regrettable message" })).toHaveCount(0);
  await expect(messages(page).filter({ hasText: "a regrettable message" })).toHaveCount(0);
  await expect(messages(other)).toHaveCount(1);
});

test("the server refuses to delete someone else's message", async ({ page, browser }) => {
  const channel = unique("forge");
  await signIn(page, unique("max"));
  await createChannel(page, channel);
  await send(page, "not yours");
  await expect(messages(page)).toHaveCount(1);

  const other = await newUser(browser, unique("ned"));
  const history = await (await other.request.post("/api/channel_history", { form: { channel } })).json();
  const seq = String(history.messages[0].seq);

  // Through a server function, with the other user's identity cookie.
  const reply = await other.request.post("/api/delete_message", { form: { channel, seq } });
  expect(reply.status()).toBe(403);
  expect((await reply.json()).code).toBe("not_author");

  // Through a raw WebSocket from the other user's page.
  const answer = await other.evaluate(
    ({ channel, seq }) =>
      new Promise<string>((resolve, reject) => {
        const ws = new WebSocket(`ws://${location.host}/ws`);
        ws.onmessage = (event) => {
          const data = JSON.parse(event.data);
          if (data.type === "hello") ws.send(JSON.stringify({ type: "delete", channel, seq: Number(seq) }));
          if (data.type === "error") resolve(data.code);
        };
        ws.onerror = () => reject(new Error("socket failed"));
      }),
    { channel, seq },
  );
  expect(answer).toBe("not_author");

  await page.reload();
  await expect(messages(page)).toHaveCount(1);
  await expect(messages(page).first()).toContainText("not yours");
});
