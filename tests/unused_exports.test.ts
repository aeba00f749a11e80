/**
 * No dead exports: every name a library module exports is imported or
 * re-exported by another file (library, tests, bench, examples), is public
 * API (exported by an entry point of package.json / deno.json), or is a type
 * another export of its module is written in terms of (declaration files
 * must be able to name it). A dead export is code nobody can tell is unused,
 * so nobody dares remove it.
 *
 * Read with the TypeScript compiler's parser, file by file; a namespace
 * import (`import * as x from "./m.ts"`) uses every name of that module.
 */

import { test } from "uvu";
import * as assert from "uvu/assert";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const root = fileURLToPath(new URL("..", import.meta.url));
const LIBRARY = ["mod.ts", "idb.ts", "defaults.ts", "logger.ts", "options.ts", "internal.ts", "format", "recorder", "worker", "storage", "replay", "islands", "dashboard"];
const USERS = [...LIBRARY, "tests", "bench", "examples"];
/** Entry points: what they export is the public API. */
const ENTRIES = new Set(["mod.ts", "idb.ts", "internal.ts", "islands/client.ts", "storage/conformance.ts"]);
const isSource = (f: string) => /\.tsx?$/.test(f) && !/\.d\.ts$|\.gen\.ts$/.test(f);
const isLibrary = (f: string) => !/\.test\.tsx?$|\.fixture\.ts$/.test(f) && !/^(tests|bench|examples)\//.test(f);

function sourceFiles(): string[] {
  const out: string[] = [];
  const walk = (path: string) => {
    if (statSync(path).isDirectory()) {
      for (const name of readdirSync(path)) if (name !== "node_modules") walk(join(path, name));
    } else if (isSource(path)) out.push(relative(root, path));
  };
  for (const entry of USERS) walk(join(root, entry));
  return out;
}

function parse(file: string): ts.SourceFile {
  return ts.createSourceFile(file, readFileSync(join(root, file), "utf8"), ts.ScriptTarget.Latest, true, file.endsWith("x") ? ts.ScriptKind.TSX : ts.ScriptKind.TS);
}

function isExported(node: ts.Statement): boolean {
  return ts.canHaveModifiers(node) && (ts.getModifiers(node)?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword) ?? false);
}

/** The names a module's own export declarations introduce, each with its node. */
function declaredExports(source: ts.SourceFile): [string, ts.Node][] {
  const out: [string, ts.Node][] = [];
  for (const node of source.statements) {
    if (!isExported(node)) continue;
    if (ts.isVariableStatement(node)) {
      for (const d of node.declarationList.declarations) if (ts.isIdentifier(d.name)) out.push([d.name.text, node]);
    } else if ((ts.isFunctionDeclaration(node) || ts.isClassDeclaration(node) || ts.isInterfaceDeclaration(node) || ts.isTypeAliasDeclaration(node) || ts.isEnumDeclaration(node)) && node.name) {
      out.push([node.name.text, node]);
    }
  }
  return out;
}

/** Names used in type positions (and `typeof x` types) inside `node`: what its declaration must be able to name. */
function typeNames(node: ts.Node, into: Set<string>): void {
  if (ts.isTypeReferenceNode(node) || ts.isExpressionWithTypeArguments(node)) {
    const name = ts.isTypeReferenceNode(node) ? node.typeName : node.expression;
    into.add(name.getText().split(".")[0]);
  } else if (ts.isTypeQueryNode(node)) {
    into.add(node.exprName.getText().split(".")[0]);
  }
  ts.forEachChild(node, (child) => typeNames(child, into));
}

/** What a file takes from other modules: named imports and re-exports, and modules imported whole. */
function uses(file: string, source: ts.SourceFile, names: Set<string>, wholeModules: Set<string>): void {
  for (const node of source.statements) {
    if (ts.isImportDeclaration(node)) {
      const bindings = node.importClause?.namedBindings;
      if (bindings && ts.isNamedImports(bindings)) for (const e of bindings.elements) names.add((e.propertyName ?? e.name).text);
      if (bindings && ts.isNamespaceImport(bindings) && ts.isStringLiteral(node.moduleSpecifier)) {
        wholeModules.add(relative(root, resolve(dirname(join(root, file)), node.moduleSpecifier.text)));
      }
    }
    if (ts.isExportDeclaration(node) && node.exportClause && ts.isNamedExports(node.exportClause)) {
      for (const e of node.exportClause.elements) names.add((e.propertyName ?? e.name).text);
    }
  }
}

test("every export of a library module is used elsewhere, public, or part of another export's type", () => {
  const files = sourceFiles();
  const parsed = new Map(files.map((f) => [f, parse(f)]));
  const used = new Set<string>();
  const whole = new Set<string>();
  for (const [file, source] of parsed) uses(file, source, used, whole);
  const unused: string[] = [];
  let checked = 0;
  for (const [file, source] of parsed) {
    if (!isLibrary(file) || ENTRIES.has(file) || whole.has(file)) continue;
    const exports = declaredExports(source);
    for (const [name, node] of exports) {
      checked++;
      if (used.has(name)) continue;
      const shapes = new Set<string>();
      for (const [other, otherNode] of exports) if (other !== name) typeNames(otherNode, shapes);
      if (!shapes.has(name)) unused.push(`${file}: ${name}`);
      void node;
    }
  }
  // Positive control: the parser finds the exports (hundreds), so an empty list means something.
  assert.ok(checked > 300, `${checked} exports checked`);
  assert.equal(unused, [], `exports that nothing uses (drop the export keyword, or the code):\n${unused.join("\n")}`);
});

test.run();
