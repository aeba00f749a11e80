import { createDemoApp } from "../examples/demo/app.tsx";
import { memoryStorage } from "../mod.ts";
for (const fidelity of [true, false]) for (const format of ["tagged", "json"] as const) {
  const { app, replay } = createDemoApp({ storage: memoryStorage(), fidelity, format });
  const r = await app.request("/signup");
  const cookie = r.headers.get("set-cookie")!.split(";")[0];
  let f = { name: "", email: "", password: "" };
  const text = { name: "Ada Lovelace", email: "ada.lovelace@analytical-engines.example.com", password: "Correct-Horse-Battery-Staple-1843!" };
  let n = 0;
  outer: for (let round = 0; round < 3; round++) for (const k of ["name", "email", "password"] as const) for (const ch of text[k]) {
    if (n++ >= 200) break outer;
    f = { ...f, [k]: f[k] + ch };
    await app.request("/signup/validate", { method: "POST", headers: { cookie, "x-replay-event": "validate", "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams(f).toString() });
  }
  await app.request("/signup", { method: "POST", headers: { cookie, "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams(f).toString() });
  await replay.close();
  const [s] = await replay.store.listRecordingSummaries();
  console.log({ fidelity, format, events: s.eventCount, bytes: s.sizeBytes, perEvent: (s.sizeBytes / s.eventCount).toFixed(1) });
}
