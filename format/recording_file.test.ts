/**
 * The recording file: columns built the way worker/drain.ts builds them (raw
 * payload text from the `payload` helpers) encode to compressed bytes and decode
 * back to the same events; damaged bytes give CorruptRecordingError naming the id.
 */

import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  compressText,
  CorruptRecordingError,
  decodeRecordingFile,
  encode,
  encodeRecordingFile,
  type Format,
  FrameKind,
  payload,
  type RecordingColumns,
  type RecordingMeta,
  type ReplayEvent,
} from "./mod.ts";
import { zlibDeflate } from "../worker/zlib.ts";

function meta(id: string, format: Format, events: ReplayEvent[]): RecordingMeta {
  return {
    id,
    view: "SignupForm",
    url: "http://localhost/signup?step=1",
    sessionKey: "k3y",
    startedAt: 1_767_225_600_000,
    durationMs: events[events.length - 1].t,
    eventCount: events.length,
    eventNames: [...new Set(events.flatMap((e) => (e.kind === "event" ? [e.name] : [])))],
    truncated: false,
    dropped: 0,
    recovered: false,
    format,
  };
}

/** What the drainer accumulates from the frames: one kind letter, offset, label (events and infos) and raw payload per event. */
function columnsOf(events: ReplayEvent[], format: Format): RecordingColumns {
  const c: RecordingColumns = { kinds: "", offsets: [], labels: [], payloads: [] };
  const enc = (v: unknown) => encode(v, format);
  for (const e of events) {
    c.offsets.push(e.t);
    switch (e.kind) {
      case "mount":
        c.kinds += FrameKind.mount;
        c.payloads.push(payload.mount(e.url, enc(e.params), enc(e.session), enc(e.assigns), e.htmlHash));
        break;
      case "event":
        c.kinds += FrameKind.event;
        c.labels.push(e.name);
        c.payloads.push(payload.event(enc(e.params)));
        break;
      case "params":
        c.kinds += FrameKind.params;
        c.payloads.push(payload.params(e.url, enc(e.params)));
        break;
      case "info":
        c.kinds += FrameKind.info;
        c.labels.push(e.type);
        c.payloads.push(payload.info());
        break;
      case "render":
        c.kinds += e.full ? FrameKind.keyframe : FrameKind.render;
        c.payloads.push(payload.render(enc(e.changed), e.removed, e.htmlHash));
        break;
    }
  }
  return c;
}

/** One of each event kind, with values only the tagged format keeps. */
const taggedEvents: ReplayEvent[] = [
  {
    kind: "mount",
    t: 0,
    url: "http://localhost/signup?step=1",
    params: { step: "1" },
    session: { userId: 42n, since: new Date(1_000) },
    assigns: { form: { name: "", email: "" }, tags: new Set(["a"]), byId: new Map([[1, "x"]]), "~raw": 1 },
    htmlHash: "abc123",
  },
  { kind: "event", t: 412, name: "validate", params: { name: "A" } },
  { kind: "render", t: 415, changed: { form: { name: "A", email: "" }, score: NaN }, removed: ["tags"], full: false, htmlHash: "h2" },
  { kind: "params", t: 900, url: "http://localhost/signup?step=2", params: { step: "2" } },
  { kind: "info", t: 1_200, type: "new-posts-check" },
  { kind: "render", t: 1_250, changed: { form: { name: "Ada", email: "a@b.co" }, when: new Date(5) }, removed: [], full: true },
  { kind: "event", t: 2_000, name: "submit", params: {} },
  { kind: "render", t: 2_000, changed: {}, removed: ["when"], full: false, htmlHash: "h4" },
];

test("tagged: every event kind round trips, with the summary and the file size", () => {
  const m = meta("rec_tagged-1", "tagged", taggedEvents);
  const bytes = encodeRecordingFile(m, columnsOf(taggedEvents, "tagged"));
  assert.instance(bytes, Uint8Array);
  const recording = decodeRecordingFile("rec_tagged-1", bytes);
  assert.equal(recording.events, taggedEvents);
  assert.is(recording.sizeBytes, bytes.length);
  const { events: _events, sizeBytes: _size, ...summary } = recording;
  assert.equal(summary, m);
  assert.equal(recording.eventNames, ["validate", "submit"]);

  const mount = recording.events[0] as Extract<ReplayEvent, { kind: "mount" }>;
  assert.instance(mount.assigns.tags, Set);
  assert.instance(mount.assigns.byId, Map);
  assert.is((mount.session as { userId: bigint }).userId, 42n);
  assert.ok("~raw" in mount.assigns, "user keys with ~ survive the file");
  const keyframe = recording.events[5] as Extract<ReplayEvent, { kind: "render" }>;
  assert.is(keyframe.full, true);
  assert.instance(keyframe.changed.when, Date);
});

test("a file the worker deflates with node:zlib decodes to the same events; a flipped bit is caught", () => {
  const m = meta("rec_zlib-1", "tagged", taggedEvents);
  const columns = columnsOf(taggedEvents, "tagged");
  const viaZlib = encodeRecordingFile(m, columns, zlibDeflate);
  const viaFflate = encodeRecordingFile(m, columns);
  assert.not.equal(viaZlib, viaFflate, "another deflater wrote it");
  assert.equal(decodeRecordingFile("rec_zlib-1", viaZlib).events, taggedEvents);
  const damaged = viaZlib.slice();
  damaged[damaged.length - 8] ^= 1;
  assert.throws(() => decodeRecordingFile("rec_zlib-1", damaged), (e: unknown) => e instanceof CorruptRecordingError);
});

test("json: every event kind round trips with plain JSON payloads", () => {
  const events: ReplayEvent[] = [
    { kind: "mount", t: 0, url: "http://localhost/todos", params: {}, session: { user: "ada" }, assigns: { todos: [], filter: "all" }, htmlHash: "m1" },
    { kind: "event", t: 10, name: "POST /todos", params: { title: "milk" } },
    { kind: "params", t: 20, url: "http://localhost/todos?filter=open", params: { filter: "open" } },
    { kind: "info", t: 30, type: "tick" },
    { kind: "render", t: 31, changed: { todos: [{ id: 1, title: "milk" }] }, removed: [], full: false },
    { kind: "render", t: 40, changed: { todos: [], filter: "open" }, removed: [], full: true, htmlHash: "k1" },
  ];
  const m = meta("rec-json", "json", events);
  const bytes = encodeRecordingFile(m, columnsOf(events, "json"));
  assert.is(bytes[4], 1, "the format byte says json");
  const recording = decodeRecordingFile("rec-json", bytes);
  assert.is(recording.format, "json");
  assert.equal(recording.events, events);
});

test("json: the payload is lossy but decodes (Date becomes a string, BigInt a string)", () => {
  const events: ReplayEvent[] = [
    { kind: "mount", t: 0, url: "http://x/", params: {}, session: null, assigns: { when: new Date(0), n: 5n, s: new Set([1]) } },
    { kind: "event", t: 1, name: "go", params: {} },
  ];
  const recording = decodeRecordingFile("lossy", encodeRecordingFile(meta("lossy", "json", events), columnsOf(events, "json")));
  const mount = recording.events[0] as Extract<ReplayEvent, { kind: "mount" }>;
  assert.equal(mount.assigns, { when: "1970-01-01T00:00:00.000Z", n: "5", s: [1] });
});

test("repetitive recordings compress well", () => {
  const events: ReplayEvent[] = [{ kind: "mount", t: 0, url: "http://x/", params: {}, session: {}, assigns: { text: "" } }];
  for (let i = 1; i <= 200; i++) {
    events.push({ kind: "event", t: i * 100, name: "validate", params: { text: "hello world ".repeat(3).slice(0, i % 36) } });
    events.push({ kind: "render", t: i * 100 + 2, changed: { text: "hello world ".repeat(3).slice(0, i % 36) }, removed: [], full: false });
  }
  const m = meta("big", "tagged", events);
  const columns = columnsOf(events, "tagged");
  const bytes = encodeRecordingFile(m, columns);
  const rawLength = columns.payloads.join(",").length;
  assert.ok(bytes.length < rawLength / 4, `${bytes.length} bytes for ${rawLength} characters of payload`);
  assert.equal(decodeRecordingFile("big", bytes).events, events);
});

function validBytes(): Uint8Array {
  return encodeRecordingFile(meta("victim", "tagged", taggedEvents), columnsOf(taggedEvents, "tagged"));
}

function assertCorrupt(bytes: Uint8Array, id = "victim") {
  let thrown: unknown;
  try {
    decodeRecordingFile(id, bytes);
  } catch (error) {
    thrown = error;
  }
  assert.instance(thrown, CorruptRecordingError);
  assert.is((thrown as CorruptRecordingError).id, id);
  assert.match((thrown as Error).message, id);
}

test("wrong magic gives CorruptRecordingError naming the id", () => {
  const bytes = validBytes();
  bytes[0] = 0x50;
  assertCorrupt(bytes);
  const gzipLike = validBytes();
  gzipLike.set([0x1f, 0x8b, 0x08, 0x00]);
  assertCorrupt(gzipLike);
  assertCorrupt(new TextEncoder().encode('{"v":1,"meta":{},"k":"","t":[],"l":[],"d":[]}'));
});

test("an unknown format byte gives CorruptRecordingError", () => {
  const bytes = validBytes();
  bytes[4] = 7;
  assertCorrupt(bytes);
});

test("empty and tiny inputs give CorruptRecordingError", () => {
  assertCorrupt(new Uint8Array(0), "empty-one");
  assertCorrupt(validBytes().slice(0, 5));
  assertCorrupt(validBytes().slice(0, 10));
});

test("truncated bytes give CorruptRecordingError, wherever the cut is", () => {
  const bytes = validBytes();
  for (const keep of [bytes.length - 1, bytes.length - 4, bytes.length - 5, bytes.length - 20, Math.floor(bytes.length / 2), 12]) {
    assertCorrupt(bytes.slice(0, keep));
  }
});

test("a flipped byte in the compressed body gives CorruptRecordingError", () => {
  // The first deflate byte holds the block type: 0b11 is reserved, so inflate must refuse it.
  const badBlock = validBytes();
  badBlock[7] |= 0b110;
  assertCorrupt(badBlock);
  // The zlib header carries its own check bits.
  const badHeader = validBytes();
  badHeader[6] ^= 0xff;
  assertCorrupt(badHeader);
  // Wrecking the middle of the body.
  const wrecked = validBytes();
  const mid = Math.floor(wrecked.length / 2);
  for (let i = mid - 8; i < mid + 8; i++) wrecked[i] ^= 0xa5;
  assertCorrupt(wrecked);
});

test("a flipped bit anywhere is detected (the Adler-32 trailer is checked), never silently decoded", () => {
  const bytes = validBytes();
  const original = encode(decodeRecordingFile("victim", bytes).events);
  let detected = 0;
  for (let i = 0; i < bytes.length; i++) {
    for (const bit of [0x01, 0x80]) {
      const copy = bytes.slice();
      copy[i] ^= bit;
      let decoded: string | undefined;
      try {
        decoded = encode(decodeRecordingFile("victim", copy).events);
      } catch (error) {
        assert.instance(error, CorruptRecordingError, `byte ${i}: ${(error as Error)?.message}`);
        detected++;
      }
      // A flip deflate cannot see (an unused bit) may decode, but only to the very same events.
      if (decoded !== undefined) assert.is(decoded, original, `byte ${i} bit ${bit} decoded silently`);
    }
  }
  assert.ok(detected >= bytes.length * 2 - 4, `${detected} of ${bytes.length * 2} flips detected`);
});

test("well-compressed but malformed content gives CorruptRecordingError", () => {
  assertCorrupt(compressText("not json at all", "tagged"));
  assertCorrupt(compressText('{"v":2,"meta":{},"k":"","t":[],"l":[],"d":[]}', "tagged"));
  assertCorrupt(compressText('{"v":1,"meta":{},"k":"mr","t":[0],"l":[],"d":[[],[]]}', "tagged"));
  assertCorrupt(compressText('{"v":1,"meta":{},"k":"z","t":[0],"l":[],"d":[0]}', "tagged"));
  assertCorrupt(compressText('{"v":1,"meta":{},"k":"m","t":[0],"l":[],"d":[{"~":"nope"}]}', "tagged"));
});

test.run();
