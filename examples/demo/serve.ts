/** Serves a fetch handler on 127.0.0.1 with the runtime's own server. */

export interface Served {
  port: number;
  close(): Promise<void>;
}

type Fetch = (request: Request) => Response | Promise<Response>;

export async function serve(fetch: Fetch, port = 0): Promise<Served> {
  // deno-lint-ignore no-explicit-any
  const deno = (globalThis as any).Deno;
  if (deno) {
    const server = deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, fetch);
    return { port: server.addr.port, close: () => server.shutdown() };
  }
  const { serve: nodeServe } = await import("@hono/node-server");
  return new Promise((resolve) => {
    const server = nodeServe({ fetch, hostname: "127.0.0.1", port }, (info) => {
      resolve({
        port: info.port,
        close: () => new Promise<void>((done) => {
          (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
          server.close(() => done());
        }),
      });
    });
  });
}
