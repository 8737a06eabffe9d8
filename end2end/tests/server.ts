import { spawn, type ChildProcess } from "node:child_process";
import * as path from "node:path";

/**
 * A Flack server of a test's own, for tests that must restart it or need
 * settings of their own: the release binary that `cargo leptos end-to-end
 * --release` built, serving the site it built.
 */
export class OwnServer {
  private child?: ChildProcess;

  constructor(
    readonly port: number,
    private readonly env: Record<string, string> = {},
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const root = path.resolve(__dirname, "..", "..");
    const binary = process.env.FLACK_BIN ?? path.join(root, "target", "release", "flack");
    this.child = spawn(binary, ["--addr", `127.0.0.1:${this.port}`, "--config", "/nonexistent/Leptos.toml"], {
      cwd: root,
      env: {
        ...process.env,
        LEPTOS_SITE_ROOT: path.join(root, "target", "site"),
        LEPTOS_ENV: "PROD",
        ...this.env,
      },
      stdio: "ignore",
    });
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      try {
        const response = await fetch(`${this.url}/favicon.svg`);
        if (response.ok) return;
      } catch {
        // not up yet
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`the server on port ${this.port} did not start`);
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
    this.child = undefined;
  }
}
