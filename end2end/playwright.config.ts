import { defineConfig, devices } from "@playwright/test";

// Runs against the server that `cargo leptos end-to-end` starts. The
// browser is Debian's Chromium (Playwright's own download is not reachable
// from our machines); CHROMIUM_PATH overrides where it is.
export default defineConfig({
  testDir: "./tests",
  // A whole test (two or three browsers, sign-ins, reloads, a restart)
  // may take this long: a guard against hangs, not a speed check. Each
  // step still fails after the expect timeout below. 30 s was too tight
  // for the longer tests on a loaded CI machine (17 s there usually,
  // 30 s at worst).
  timeout: 120_000,
  // How long a step waits for what it expects: a guard against a hang,
  // never a speed check (a reload that hydrates late on a busy machine
  // is not a failure). Negative checks wait on an event, not on this.
  expect: { timeout: 15_000 },
  fullyParallel: true,
  forbidOnly: !!process.env.CI,
  retries: 0,
  workers: 2,
  reporter: process.env.CI ? "list" : [["list"], ["html", { open: "never" }]],
  use: {
    baseURL: process.env.FLACK_URL ?? "http://127.0.0.1:3000",
    trace: "retain-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    },
  },
  projects: [{ name: "chromium", use: { ...devices["Desktop Chrome"] } }],
});
