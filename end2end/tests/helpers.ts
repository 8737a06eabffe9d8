import { expect, type Browser, type Locator, type Page } from "@playwright/test";

/** A name no other test (or earlier run against the same server) uses. */
export function unique(prefix: string): string {
  const stamp = Date.now().toString(36).slice(-5);
  const random = Math.random().toString(36).slice(2, 6);
  return `${prefix}-${stamp}${random}`;
}

/** Opens `/` and claims `name` at the first-visit prompt. */
export async function signIn(page: Page, name: string): Promise<void> {
  await page.goto("/");
  await page.getByLabel("Display name").fill(name);
  await page.getByRole("button", { name: "Continue" }).click();
  await expect(page.getByLabel("Signed in as").getByText(name, { exact: true })).toBeVisible();
}

/** A new browser (its own storage and cookies) with a signed-in page. */
export async function newUser(browser: Browser, name: string): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, name);
  return page;
}

export function channelNav(page: Page): Locator {
  return page.getByRole("navigation", { name: "Channels" });
}

/**
 * Submits the new-channel form from the keyboard (Enter in its field).
 * The form sits below the channel list, which grows whenever another test
 * creates a channel: a pointer click can land where the button was a
 * moment before and miss it, so only channels.spec.ts clicks the button
 * (and clicks again if the list moved under it).
 */
export async function submitNewChannel(page: Page, name: string): Promise<void> {
  const field = page.getByLabel("New channel name");
  await field.fill(name);
  await field.press("Enter");
}

/** Creates a channel through the form; the app opens it. */
export async function createChannel(page: Page, name: string): Promise<void> {
  await submitNewChannel(page, name);
  await expect(page.getByRole("heading", { level: 1, name })).toBeVisible();
}

/**
 * Opens a channel by its link in the channel list. Another test creating
 * a channel can shift the (sorted) list between Playwright finding the
 * link and the mouse landing on it, opening the neighbour: then it clicks
 * again, as a person would.
 */
export async function openChannel(page: Page, name: string): Promise<void> {
  await expect(async () => {
    await channelNav(page).getByRole("link", { name }).click();
    await expect(page.getByRole("heading", { level: 1, name, exact: true })).toBeVisible({ timeout: 2_000 });
  }).toPass({ timeout: 15_000 });
  await expect(messageField(page)).toBeEnabled();
}

export function messageField(page: Page): Locator {
  return page.getByRole("textbox", { name: "Message", exact: true });
}

/** Types a message and sends it with Enter. */
export async function send(page: Page, text: string): Promise<void> {
  await messageField(page).fill(text);
  await messageField(page).press("Enter");
  await expect(messageField(page)).toHaveValue("");
}

export function messages(page: Page): Locator {
  return page.getByRole("log", { name: "Messages", exact: true }).getByRole("article");
}

/** Waits until the page's socket is online (the status element says so). */
export async function online(page: Page): Promise<void> {
  await expect(page.getByRole("status", { name: "Connection" })).toHaveText(/online/i);
}

/** Posts `count` messages "<prefix> <i>" on a socket of `page`'s user, each acknowledged. */
export async function flood(page: Page, channel: string, prefix: string, count: number): Promise<void> {
  await page.evaluate(
    ({ channel, prefix, count }) =>
      new Promise<void>((resolve, reject) => {
        const ws = new WebSocket(`ws://${location.host}/ws`);
        let acked = 0;
        ws.onmessage = (event) => {
          const data = JSON.parse(event.data);
          if (data.type === "hello") {
            for (let i = 1; i <= count; i++) {
              ws.send(JSON.stringify({ type: "send", channel, text: `${prefix} ${i}`, client_id: `f${i}` }));
            }
          }
          if (data.type === "ack" && ++acked === count) {
            ws.close();
            resolve();
          }
          if (data.type === "error") reject(new Error(data.message));
        };
      }),
    { channel, prefix, count },
  );
}

/** Sends one frame on a new socket of `page`'s user; the error code it gets. */
export async function rawSocket(page: Page, frame: object): Promise<string> {
  return page.evaluate(
    (frame) =>
      new Promise<string>((resolve, reject) => {
        const ws = new WebSocket(`ws://${location.host}/ws`);
        ws.onmessage = (event) => {
          const data = JSON.parse(event.data);
          if (data.type === "hello") ws.send(JSON.stringify(frame));
          if (data.type === "error") {
            resolve(data.code);
            ws.close();
          }
        };
        ws.onerror = () => reject(new Error("socket failed"));
      }),
    frame,
  );
}
