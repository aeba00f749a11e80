/**
 * Cost of the recorder for a request that renders nothing (a JSON route): the
 * same Hono app without the middleware, with it (attach on: the capture and
 * the wrapped c.html/c.body), and with the session sampled out.
 * Interleaved rounds, same process, medians of per-round means.
 *   node --import tsx bench/attach_nothing.ts
 */
import { Hono } from "hono";
import { createReplay, honoView, memoryStorage } from "../mod.ts";
import { PostIndex, SignupForm, TodoList } from "../examples/demo/views.tsx";
import { TodoBody } from "../examples/demo/hono_views.tsx";

const N = Number(process.env.N ?? 4000), ROUNDS = Number(process.env.ROUNDS ?? 9);
const cookieOf = (res: Response) => res.headers.get("set-cookie")?.match(/hono_replay=[^;]+/)?.[0] ?? "";

function app(mw?: ReturnType<ReturnType<typeof createReplay>["recorder"]>) {
  const a = new Hono();
  if (mw) a.use(mw);
  a.get("/api", (c) => c.json({ ok: true }));
  return a;
}
const replays = [
  createReplay({ views: { SignupForm, TodoList, PostIndex }, storage: memoryStorage(), worker: false }),
  createReplay({ views: { SignupForm, TodoList, PostIndex, TodoBody: honoView(TodoBody) }, storage: memoryStorage(), worker: false }),
  createReplay({ views: { SignupForm, TodoList, PostIndex }, storage: memoryStorage(), worker: false, sampleRate: 0 }),
];
const variants: [string, Hono][] = [
  ["no middleware", app()],
  ["recorder (Preact views)", app(replays[0].recorder())],
  ["recorder (with a hono/jsx view)", app(replays[1].recorder())],
  ["recorder, session sampled out", app(replays[2].recorder())],
];
const cookies = new Map<Hono, string>();
for (const [, a] of variants) cookies.set(a, cookieOf(await a.request("/api")));
const samples = new Map<string, number[]>(variants.map(([n]) => [n, []]));
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, a] of variants) {
    const headers = { cookie: cookies.get(a)! };
    const t0 = performance.now();
    for (let i = 0; i < N; i++) await (await a.request("/api", { headers })).text();
    if (r > 0) samples.get(name)!.push(((performance.now() - t0) / N) * 1000);
  }
}
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
const base = median(samples.get("no middleware")!);
for (const [name] of variants) {
  const m = median(samples.get(name)!);
  console.log(`${name.padEnd(34)} ${m.toFixed(2).padStart(7)} µs/request  ${(m / base).toFixed(3)}×`);
}
for (const r of replays) await r.close();
