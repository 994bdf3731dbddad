import { connect, createServer, type Server, type Socket } from "node:net";

/**
 * A TCP relay on 127.0.0.1 in front of a local port (a `hardhat node`): agents pointed at
 * `url` reach the node through it, and the test can cut the endpoint off and bring it back with
 * the chain behind it unchanged — an RPC outage, which a node cannot be stopped and restarted
 * for without losing its chain.
 */
export interface TcpRelay {
  /** `http://127.0.0.1:<port>` of the relay. */
  url: string;
  port: number;
  /** Closes the listener and every open connection: connections are refused until `restore()`. */
  cut(): Promise<void>;
  /** Listens again on the same port. */
  restore(): Promise<void>;
  close(): Promise<void>;
}

/** Starts a {@link TcpRelay} to 127.0.0.1:`targetPort` on a free port. */
export async function startTcpRelay(targetPort: number): Promise<TcpRelay> {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  const listen = (port: number): Promise<number> =>
    new Promise((resolve, reject) => {
      const next = createServer((socket) => {
        const upstream = connect(targetPort, "127.0.0.1");
        for (const s of [socket, upstream]) {
          sockets.add(s);
          s.once("close", () => sockets.delete(s));
          s.on("error", () => {
            socket.destroy();
            upstream.destroy();
          });
        }
        socket.pipe(upstream).pipe(socket);
      });
      next.once("error", reject);
      next.listen(port, "127.0.0.1", () => {
        server = next;
        const address = next.address();
        resolve(typeof address === "object" && address ? address.port : port);
      });
    });
  const cut = async (): Promise<void> => {
    const current = server;
    server = undefined;
    for (const s of sockets) s.destroy();
    if (current) await new Promise<void>((resolve) => current.close(() => resolve()));
  };
  const port = await listen(0);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    cut,
    async restore() {
      if (!server) await listen(port);
    },
    close: cut,
  };
}
