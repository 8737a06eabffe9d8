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
  /** The port the system chose at the first start; a restart keeps it,
   * so that open pages find the server again at the same address. */
  private chosen?: number;

  constructor(
    private readonly env: Record<string, string> = {},
    private readonly alone = false,
  ) {}

  get port(): number {
    if (this.chosen === undefined) throw new Error("the server has not started yet");
    return this.chosen;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const root = path.resolve(__dirname, "..", "..");
    let binary = process.env.FLACK_BIN ?? path.join(root, "target", "release", "flack");
    let cwd = root;
    // Port 0 the first time: the server binds a port the system picks and
    // writes its address to a file once it accepts connections.
    const addrFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "flack-addr-")), "addr");
    const args = ["--addr", `127.0.0.1:${this.chosen ?? 0}`, "--addr-file", addrFile];
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
    const child = spawn(binary, args, {
      cwd,
      env: { ...env, ...this.env },
      stdio: "ignore",
    });
    this.child = child;
    const exited = new Promise<never>((_, reject) =>
      child.once("exit", (code) => reject(new Error(`the server exited (${code}) before it listened`))),
    );
    // Waits for the address file (written whole, by a rename), or the
    // server's exit; a hang is caught by the test's own time limit.
    const written = new Promise<string>((resolve) => {
      const folder = path.dirname(addrFile);
      const watcher = fs.watch(folder, () => {
        if (fs.existsSync(addrFile)) {
          watcher.close();
          resolve(fs.readFileSync(addrFile, "utf8"));
        }
      });
      if (fs.existsSync(addrFile)) {
        watcher.close();
        resolve(fs.readFileSync(addrFile, "utf8"));
      }
    });
    const addr = await Promise.race([written, exited]);
    fs.rmSync(path.dirname(addrFile), { recursive: true, force: true });
    this.chosen = Number(addr.trim().split(":").pop());
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
