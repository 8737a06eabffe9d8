// A returning user for run.mjs and profile.mjs: a name, a channel and 100
// messages sent through the UI; returns the channel's path.
export async function seed(page, base, run) {
  const channel = `lighthouse-${Date.now().toString(36)}-${run}`;
  await page.goto(base + "/");
  await page.locator("::-p-aria(Display name)").fill(`Reader ${run}`);
  await page.locator("::-p-aria(Continue)").click();
  await page.waitForSelector("::-p-aria(Signed in as)");
  await page.locator("::-p-aria(New channel name)").fill(channel);
  await page.locator("::-p-aria(Create channel)").click();
  await page.waitForSelector(`h1 ::-p-text(${channel})`);
  await page.waitForFunction(() => document.querySelector("[aria-label=Connection]")?.textContent.includes("Online"));
  const field = await page.waitForSelector('::-p-aria([name="Message"][role="textbox"])');
  await field.evaluate((field) => {
    for (let i = 1; i <= 100; i++) {
      field.value = `Message ${i}: the quick brown fox jumps over the lazy dog, **twice**; see https://example.com/${i}`;
      field.dispatchEvent(new Event("input", { bubbles: true }));
      field.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true, cancelable: true }));
    }
  });
  // Articles are stored messages (one on its way is not an article yet).
  await page.waitForFunction(() => document.querySelectorAll("[role=log] article").length >= 100, { timeout: 60000 });
  return `/c/${channel}`;
}

