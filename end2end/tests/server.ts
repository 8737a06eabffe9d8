import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/**
 * A Flack server of a test's own, for tests that must restart it or need
 * settings of their own: the release binary that `cargo leptos end-to-end
 * --release` built. By default it runs in the project, with the test's
 * environment, no config file and a database file of its own (kept across
 * restarts, removed by `stop(true)`); `alone` copies the binary by itself
 * into an empty folder and runs it there with nothing in its environment
 * but PATH, as a deployment would (its database is the default
 * `flack.db` there).
 */
export class OwnServer {
  private child?: ChildProcess;
  private folder?: string;
  private database?: string;

  constructor(
    readonly port: number,
    private readonly env: Record<string, string> = {},
    private readonly alone = false,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const root = path.resolve(__dirname, "..", "..");
    let binary = process.env.FLACK_BIN ?? path.join(root, "target", "release", "flack");
    let cwd = root;
    const args = ["--addr", `127.0.0.1:${this.port}`];
    let env: Record<string, string | undefined> = { ...process.env, LEPTOS_ENV: "PROD" };
    if (this.alone) {
      this.folder ??= fs.mkdtempSync(path.join(os.tmpdir(), "flack-alone-"));
      cwd = this.folder;
      fs.copyFileSync(binary, path.join(cwd, "flack"));
      fs.chmodSync(path.join(cwd, "flack"), 0o755);
      binary = path.join(cwd, "flack");
      env = { PATH: process.env.PATH };
    } else {
      // Not the project's Leptos.toml: only this test's settings.
      args.push("--config", "/nonexistent/Leptos.toml");
      this.database ??= path.join(fs.mkdtempSync(path.join(os.tmpdir(), "flack-db-")), "flack.db");
      args.push("--database", this.database);
    }
    this.child = spawn(binary, args, {
      cwd,
      env: { ...env, ...this.env },
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

  /** Stops the server (SIGTERM, or SIGKILL with `kill`); its data stays
   * for the next start unless `forget`. */
  async stop(forget = true, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    const child = this.child;
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill(signal);
      await exited;
    }
    this.child = undefined;
    if (!forget) return;
    if (this.folder) {
      fs.rmSync(this.folder, { recursive: true, force: true });
      this.folder = undefined;
    }
    if (this.database) {
      fs.rmSync(path.dirname(this.database), { recursive: true, force: true });
      this.database = undefined;
    }
  }
}
