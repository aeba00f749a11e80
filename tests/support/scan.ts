/**
 * What a privacy test searches: every file under some directories and every
 * row of a PostgreSQL storage's tables, as text, with compressed content
 * inflated (recording files: "HRP" header then zlib; gzip and zlib streams by
 * their magic bytes), so that a value is found however the library stored it.
 */

import { existsSync, lstatSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync, unzlibSync } from "fflate";
import type { Sql } from "postgres";

export interface Scanned {
  /** Where: a file's path, or `<table>/<row>`. */
  where: string;
  text: string;
}

const decoder = new TextDecoder();

/** Bytes as text, inflated where they are compressed. */
export function inflate(bytes: Uint8Array): string {
  const tries: (() => Uint8Array)[] = [];
  if (bytes[0] === 0x48 && bytes[1] === 0x52 && bytes[2] === 0x50) tries.push(() => unzlibSync(bytes.subarray(5)));
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) tries.push(() => gunzipSync(bytes));
  if (bytes[0] === 0x78) tries.push(() => unzlibSync(bytes));
  for (const attempt of tries) {
    try {
      return decoder.decode(attempt());
    } catch {
      continue; // not that format after all: the next, or the bytes as they are
    }
  }
  return decoder.decode(bytes);
}

/** Every file under each directory (missing ones have none), links not followed. */
export function scanFiles(...dirs: string[]): Scanned[] {
  const out: Scanned[] = [];
  const walk = (path: string) => {
    const info = lstatSync(path, { throwIfNoEntry: false });
    if (!info) return; // removed while we looked
    if (info.isDirectory()) for (const name of readdirSync(path)) walk(join(path, name));
    else if (info.isFile()) out.push({ where: path, text: inflate(readFileSync(path)) });
  };
  for (const dir of dirs) if (existsSync(dir)) walk(dir);
  return out;
}

/** Every row of a postgresStorage's tables, each as JSON with its bytea columns inflated. */
export async function scanTables(sql: Sql, table: string): Promise<Scanned[]> {
  const out: Scanned[] = [];
  for (const name of [table, `${table}_segments`, `${table}_claims`, `${table}_erasures`]) {
    const rows = await sql<Record<string, unknown>[]>`SELECT * FROM ${sql(name)}`;
    rows.forEach((row, i) => {
      const text = Object.entries(row).map(([column, value]) => `${column}=${value instanceof Uint8Array ? inflate(value) : JSON.stringify(value)}`);
      out.push({ where: `${name}/${i}`, text: text.join("\n") });
    });
  }
  return out;
}

/** Where `needle` is. */
export function hits(scanned: Scanned[], needle: string): string[] {
  return scanned.filter((s) => s.text.includes(needle)).map((s) => s.where);
}
