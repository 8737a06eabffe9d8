import * as net from "node:net";

/**
 * A TCP proxy in front of a server that can make its open connections go
 * silent without closing them: what a dropped route or a sleeping laptop
 * does to a WebSocket. Connections made after `freeze()` work normally.
 */
export class FreezingProxy {
  private server?: net.Server;
  private pairs = new Set<[net.Socket, net.Socket]>();
  private frozen: net.Socket[] = [];

  private listening?: number;

  /** `target` says the server's port once it runs. */
  constructor(private readonly target: () => number) {}

  get port(): number {
    if (this.listening === undefined) throw new Error("the proxy has not started yet");
    return this.listening;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.server = net.createServer((client) => {
      const upstream = net.connect(this.target(), "127.0.0.1");
      const pair: [net.Socket, net.Socket] = [client, upstream];
      this.pairs.add(pair);
      client.pipe(upstream);
      upstream.pipe(client);
      const end = () => {
        this.pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.on("close", end).on("error", end);
      upstream.on("close", end).on("error", end);
    });
    // Port 0: the system picks a free one.
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.listening = (this.server.address() as net.AddressInfo).port;
  }

  /** Every open connection stops carrying anything, both ways, and is
   * never closed towards the client. */
  freeze(): void {
    for (const [client, upstream] of this.pairs) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.removeAllListeners("close").removeAllListeners("error").on("error", () => {});
      upstream.removeAllListeners("close").removeAllListeners("error").on("error", () => {});
      client.pause();
      upstream.pause();
      this.frozen.push(client, upstream);
    }
    this.pairs.clear();
  }

  async stop(): Promise<void> {
    for (const socket of this.frozen) socket.destroy();
    for (const [client, upstream] of this.pairs) {
      client.destroy();
      upstream.destroy();
    }
    await new Promise((resolve) => this.server?.close(resolve));
  }
}
