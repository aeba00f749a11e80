/**
 * The canonical text of an island's content: what the browser hashes after each
 * recorded state change and what replay hashes from the re-rendered HTML, so
 * the two can be compared with one `shortHash` (format/ids.ts).
 *
 * Why not innerHTML: the live DOM of a hydrated island depends on its history
 * (an attribute set during hydration stays while Preact later sets the
 * property; `el.style` re-serializes "width:40%" as "width: 40%;"), and the
 * server has no DOM at all. So both sides reduce the content to the same small
 * form, the browser from the DOM (`canonicalDom`), the server from the HTML
 * preact-render-to-string produced (`canonicalHtml`, a parser for that HTML
 * only):
 *
 *   element  <tag a="v" b="">children</tag>   tag and attribute names lower-case,
 *                                              attributes sorted by name
 *   text     & < > escaped; adjacent text nodes joined; comments dropped
 *   style    "name:value;name:value" (trimmed, in written order)
 *
 * Invariants: the same content gives the same text on both sides; nothing here
 * touches Node, Deno or the DOM at module load (the client bundle imports it).
 * Left out on purpose: `value`, `checked` and `selected`, the live state of form
 * controls, which the DOM keeps as properties and the user types (often
 * secrets); they are not part of what fidelity proves. Inline colours are
 * re-serialized by the browser (#0a7d32 becomes rgb(10, 125, 50)): style islands
 * with classes, or expect such frames to be flagged.
 */

const SKIPPED = new Set(["value", "checked", "selected"]);
const VOID = new Set(["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"]);
const RAW = new Set(["script", "style"]);

function escText(text: string): string {
  return text.replace(/[&<>]/g, (c) => (c === "&" ? "&amp;" : c === "<" ? "&lt;" : "&gt;"));
}

function escAttr(text: string): string {
  return text.replace(/[&"]/g, (c) => (c === "&" ? "&amp;" : "&quot;"));
}

/** "width: 40%; font-size: 3px;" and "width:40%;font-size:3px" both become "width:40%;font-size:3px". */
function normalizeStyle(style: string): string {
  const out: string[] = [];
  for (const part of style.split(";")) {
    const colon = part.indexOf(":");
    if (colon > 0) out.push(part.slice(0, colon).trim().toLowerCase() + ":" + part.slice(colon + 1).trim());
  }
  return out.join(";");
}

function attrs(list: [string, string][]): string {
  let out = "";
  for (const [name, value] of list.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
    if (!SKIPPED.has(name)) out += " " + name + '="' + escAttr(name === "style" ? normalizeStyle(value) : value) + '"';
  }
  return out;
}

/** The canonical text of an element's children, read from the live DOM (browser side). */
export function canonicalDom(el: Element): string {
  let out = "";
  for (let node = el.firstChild; node; node = node.nextSibling) {
    if (node.nodeType === 3) out += escText((node as Text).data);
    else if (node.nodeType === 1) {
      const child = node as Element;
      const tag = child.localName.toLowerCase();
      const list: [string, string][] = [];
      for (const a of Array.from(child.attributes)) list.push([a.name.toLowerCase(), a.value]);
      out += "<" + tag + attrs(list) + ">" + canonicalDom(child) + "</" + tag + ">";
    }
  }
  return out;
}

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: "\u00a0" };

function decodeEntities(text: string): string {
  return text.indexOf("&") < 0 ? text : text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (all, name: string) => {
    if (name[0] === "#") return String.fromCodePoint(name[1] === "x" || name[1] === "X" ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10));
    return ENTITIES[name.toLowerCase()] ?? all;
  });
}

/** Parses server-rendered HTML (preact-render-to-string output) from `at`: one element's children up to `</tag>`, or to the end. */
class HtmlReader {
  constructor(private readonly html: string, public at: number) {}

  /** Canonical children until the close tag of `tag` (consumed) or the end of the text. */
  children(tag: string | undefined): string {
    const html = this.html;
    let out = "";
    let text = "";
    const flush = () => {
      if (text) out += escText(decodeEntities(text));
      text = "";
    };
    while (this.at < html.length) {
      const lt = html.indexOf("<", this.at);
      if (lt < 0) {
        text += html.slice(this.at);
        this.at = html.length;
        break;
      }
      text += html.slice(this.at, lt);
      this.at = lt;
      if (html.startsWith("<!--", lt)) {
        const end = html.indexOf("-->", lt + 4);
        this.at = end < 0 ? html.length : end + 3;
      } else if (html[lt + 1] === "/") {
        const end = html.indexOf(">", lt);
        const name = html.slice(lt + 2, end < 0 ? html.length : end).trim().toLowerCase();
        this.at = end < 0 ? html.length : end + 1;
        if (name === tag) break;
        // A stray close tag: ignored, as a browser would.
      } else if (/[a-zA-Z]/.test(html[lt + 1] ?? "")) {
        flush();
        out += this.element();
      } else {
        text += "<";
        this.at = lt + 1;
      }
    }
    flush();
    return out;
  }

  /** The element starting at `this.at` ("<tag …>"), canonical, with its children. */
  element(): string {
    const { tag, list, selfClosing } = this.startTag();
    let inner = "";
    if (RAW.has(tag)) {
      const end = this.html.indexOf("</" + tag, this.at);
      inner = escText(this.html.slice(this.at, end < 0 ? this.html.length : end));
      const close = end < 0 ? -1 : this.html.indexOf(">", end);
      this.at = close < 0 ? this.html.length : close + 1;
    } else if (!selfClosing && !VOID.has(tag)) {
      inner = this.children(tag);
    }
    return "<" + tag + attrs(list) + ">" + inner + "</" + tag + ">";
  }

  startTag(): { tag: string; list: [string, string][]; selfClosing: boolean } {
    const html = this.html;
    let i = this.at + 1;
    const nameEnd = html.slice(i).search(/[\s/>]/);
    const tag = html.slice(i, nameEnd < 0 ? html.length : i + nameEnd).toLowerCase();
    i = nameEnd < 0 ? html.length : i + nameEnd;
    const list: [string, string][] = [];
    let selfClosing = false;
    while (i < html.length) {
      const c = html[i];
      if (c === ">") {
        i++;
        break;
      }
      if (c === "/" && html[i + 1] === ">") {
        selfClosing = true;
        i += 2;
        break;
      }
      if (/[\s/]/.test(c)) {
        i++;
        continue;
      }
      const m = /^[^\s/>=]+/.exec(html.slice(i, i + 256))!;
      const name = m[0].toLowerCase();
      i += name.length;
      let value = "";
      if (html[i] === "=") {
        i++;
        const q = html[i];
        if (q === '"' || q === "'") {
          const end = html.indexOf(q, i + 1);
          value = html.slice(i + 1, end < 0 ? html.length : end);
          i = end < 0 ? html.length : end + 1;
        } else {
          const m2 = /^[^\s>]*/.exec(html.slice(i))!;
          value = m2[0];
          i += value.length;
        }
      }
      if (!list.some((a) => a[0] === name)) list.push([name, decodeEntities(value)]);
    }
    this.at = i;
    return { tag, list, selfClosing };
  }
}

/** The canonical text of an HTML fragment (server side). */
export function canonicalHtml(html: string): string {
  return new HtmlReader(html, 0).children(undefined);
}

/**
 * The canonical content of the island named `name` in a server-rendered page:
 * the children of its `data-island` wrapper (islands/client.ts). Undefined when
 * the page does not render that island.
 */
export function canonicalIsland(pageHtml: string, name: string): string | undefined {
  const marker = pageHtml.indexOf(' data-island="' + escAttr(name) + '"');
  if (marker < 0) return undefined;
  const open = pageHtml.lastIndexOf("<", marker);
  if (open < 0) return undefined;
  const reader = new HtmlReader(pageHtml, open);
  const { tag, selfClosing } = reader.startTag();
  return selfClosing || VOID.has(tag) ? "" : reader.children(tag);
}
