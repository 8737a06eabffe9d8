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

/** Creates a channel through the form; the app opens it. */
export async function createChannel(page: Page, name: string): Promise<void> {
  await page.getByLabel("New channel name").fill(name);
  await page.getByRole("button", { name: "Create channel" }).click();
  await expect(page.getByRole("heading", { level: 1, name })).toBeVisible();
}

/** Opens a channel by its link in the channel list. */
export async function openChannel(page: Page, name: string): Promise<void> {
  await channelNav(page).getByRole("link", { name }).click();
  await expect(page.getByRole("heading", { level: 1, name })).toBeVisible();
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
  return page.getByRole("log", { name: "Messages" }).getByRole("article");
}

/** Waits until the page's socket is online (the status element says so). */
export async function online(page: Page): Promise<void> {
  await expect(page.getByRole("status")).toHaveText(/online/i);
}
