// A small Markdown renderer for model output that builds DOM nodes and never parses HTML.
//
// Blocks: paragraphs (single line breaks kept), headings, fenced and indented code,
// bullet and numbered lists (nested by indentation), block quotes, rules.
// Inline: code spans, strong, emphasis, strike-through, links and bare URLs.
// Every piece of text becomes a Text node, so "<script>" or "<img onerror=...>" in a reply
// is shown as those characters. Links keep their href only for http, https and mailto;
// any other scheme (javascript:, data:, vbscript:, relative paths) is shown as plain text.

const SAFE_SCHEMES = new Set(["http:", "https:", "mailto:"]);
const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)/;
const HEADING = /^ {0,3}(#{1,6})[ \t]+(.*?)[ \t#]*$/;
const RULE = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
const BULLET = /^( *)([-*+])[ \t]+(.*)$/;
const ORDERED = /^( *)(\d{1,9})[.)][ \t]+(.*)$/;
const QUOTE = /^ {0,3}> ?(.*)$/;
const INDENTED_CODE = /^(?: {4}|\t)(.*)$/;
const ESCAPABLE = "\\`*_{}[]()#+-.!~<>|\"'";
const BARE_URL = /^(?:https?:\/\/|mailto:)[^\s<>"]+/i;

/** The scheme-checked URL, or null when the link must not be followed. */
export function safeHref(raw) {
  const href = raw.trim();
  if (!/^(?:https?:\/\/|mailto:)/i.test(href)) return null;
  let url;
  try {
    url = new URL(href);
  } catch {
    return null;
  }
  return SAFE_SCHEMES.has(url.protocol) ? url.href : null;
}

/** ``text`` as Markdown, rendered into a DocumentFragment. */
export function renderMarkdown(text) {
  const fragment = document.createDocumentFragment();
  const lines = String(text ?? "").replace(/\r\n?/g, "\n").split("\n");
  renderBlocks(lines, fragment, { heading: 2 });
  return fragment;
}

function el(tag, className) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  return node;
}

function renderBlocks(lines, parent, state) {
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (!line.trim()) {
      i += 1;
      continue;
    }
    const fence = FENCE.exec(line);
    if (fence) {
      i = codeFence(lines, i, fence, parent);
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      // Levels never skip (h2 is the page's; a reply's "###" after nothing is an h3).
      const wanted = Math.min(6, heading[1].length + 2);
      const level = Math.max(3, Math.min(wanted, state.heading + 1));
      state.heading = level;
      const node = el(`h${level}`, "md-heading");
      renderInline(heading[2], node);
      parent.append(node);
      i += 1;
      continue;
    }
    if (RULE.test(line)) {
      parent.append(el("hr"));
      i += 1;
      continue;
    }
    if (QUOTE.test(line)) {
      const inner = [];
      while (i < lines.length && lines[i].trim() && QUOTE.test(lines[i])) {
        inner.push(QUOTE.exec(lines[i])[1]);
        i += 1;
      }
      const quote = el("blockquote");
      renderBlocks(inner, quote, state);
      parent.append(quote);
      continue;
    }
    if (BULLET.test(line) || ORDERED.test(line)) {
      i = list(lines, i, parent, state);
      continue;
    }
    if (INDENTED_CODE.test(line)) {
      const code = [];
      while (i < lines.length && (INDENTED_CODE.test(lines[i]) || !lines[i].trim())) {
        code.push(INDENTED_CODE.exec(lines[i])?.[1] ?? "");
        i += 1;
      }
      while (code.length && !code[code.length - 1].trim()) code.pop();
      parent.append(codeBlock(code.join("\n"), ""));
      continue;
    }
    const paragraph = [];
    while (i < lines.length && lines[i].trim() && !startsBlock(lines[i])) {
      paragraph.push(lines[i].trim());
      i += 1;
    }
    const p = el("p");
    paragraph.forEach((text, index) => {
      if (index) p.append(el("br"));
      renderInline(text, p);
    });
    parent.append(p);
  }
}

function startsBlock(line) {
  return (
    FENCE.test(line) ||
    HEADING.test(line) ||
    RULE.test(line) ||
    QUOTE.test(line) ||
    BULLET.test(line) ||
    ORDERED.test(line)
  );
}

function codeFence(lines, start, fence, parent) {
  const marker = fence[1];
  const body = [];
  let i = start + 1;
  // An unclosed fence (a reply still streaming) runs to the end.
  while (i < lines.length && !lines[i].trim().startsWith(marker)) {
    body.push(lines[i]);
    i += 1;
  }
  parent.append(codeBlock(body.join("\n"), fence[2]));
  return i + 1;
}

function codeBlock(text, language) {
  const pre = el("pre", "md-code");
  const code = el("code");
  if (/^[\w+#.-]{1,30}$/.test(language)) {
    code.dataset.language = language;
    pre.setAttribute("aria-label", `${language} code`);
  }
  code.textContent = text;
  pre.append(code);
  pre.tabIndex = 0; // wide code scrolls: keyboard users can reach it
  return pre;
}

function listItem(line) {
  const bullet = BULLET.exec(line);
  if (bullet) return { indent: bullet[1].length, ordered: false, text: bullet[3] };
  const ordered = ORDERED.exec(line);
  if (ordered) {
    return { indent: ordered[1].length, ordered: true, start: Number(ordered[2]), text: ordered[3] };
  }
  return null;
}

function list(lines, start, parent, state) {
  const first = listItem(lines[start]);
  const root = el(first.ordered ? "ol" : "ul");
  if (first.ordered && first.start !== 1) root.start = first.start;
  parent.append(root);
  // A stack of open lists by indentation; an item more indented than its list opens a
  // nested list in the previous item.
  const stack = [{ indent: first.indent, list: root, ordered: first.ordered }];
  let i = start;
  let last = null;
  while (i < lines.length) {
    const line = lines[i];
    if (!line.trim()) {
      const next = lines[i + 1];
      if (next !== undefined && listItem(next)) {
        i += 1;
        continue;
      }
      break;
    }
    const item = listItem(line);
    if (!item) {
      if (last && /^\s+\S/.test(line) && !startsBlock(line.trim())) {
        last.append(el("br"));
        renderInline(line.trim(), last);
        i += 1;
        continue;
      }
      break;
    }
    while (stack.length > 1 && item.indent < stack[stack.length - 1].indent) stack.pop();
    let top = stack[stack.length - 1];
    if (item.indent > top.indent + 1 && last) {
      const nested = el(item.ordered ? "ol" : "ul");
      if (item.ordered && item.start !== 1) nested.start = item.start;
      last.append(nested);
      top = { indent: item.indent, list: nested, ordered: item.ordered };
      stack.push(top);
    }
    const li = el("li");
    renderInline(item.text, li);
    top.list.append(li);
    last = li;
    i += 1;
  }
  return i;
}

/** Inline Markdown of one line appended to ``parent`` as Text and element nodes. */
export function renderInline(text, parent) {
  let buffer = "";
  const flush = () => {
    if (buffer) parent.append(document.createTextNode(buffer));
    buffer = "";
  };
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (ch === "\\" && i + 1 < text.length && ESCAPABLE.includes(text[i + 1])) {
      buffer += text[i + 1];
      i += 2;
      continue;
    }
    if (ch === "`") {
      const run = /^`+/.exec(text.slice(i))[0];
      const close = text.indexOf(run, i + run.length);
      if (close > 0) {
        flush();
        const code = el("code");
        code.textContent = text.slice(i + run.length, close).replace(/^ (.*) $/, "$1");
        parent.append(code);
        i = close + run.length;
        continue;
      }
      buffer += run;
      i += run.length;
      continue;
    }
    const delimited = delimiter(text, i);
    if (delimited) {
      flush();
      const node = el(delimited.tag);
      renderInline(delimited.inner, node);
      parent.append(node);
      i = delimited.end;
      continue;
    }
    if (ch === "[") {
      const link = linkAt(text, i);
      if (link) {
        flush();
        const href = safeHref(link.href);
        if (href) {
          const a = el("a");
          a.href = href;
          a.rel = "noopener noreferrer nofollow";
          a.target = "_blank";
          renderInline(link.label, a);
          parent.append(a);
        } else {
          parent.append(document.createTextNode(text.slice(i, link.end)));
        }
        i = link.end;
        continue;
      }
    }
    if (ch === "<") {
      const close = text.indexOf(">", i);
      const inner = close > 0 ? text.slice(i + 1, close) : "";
      if (inner && !/\s/.test(inner) && safeHref(inner)) {
        flush();
        parent.append(anchor(inner));
        i = close + 1;
        continue;
      }
    }
    if ((ch === "h" || ch === "H" || ch === "m" || ch === "M") && /(^|[\s(])$/.test(text.slice(0, i))) {
      const match = BARE_URL.exec(text.slice(i));
      if (match) {
        let url = match[0];
        while (/[.,;:!?)'"\]]$/.test(url)) url = url.slice(0, -1);
        if (safeHref(url) && url.length > 8) {
          flush();
          parent.append(anchor(url));
          i += url.length;
          continue;
        }
      }
    }
    buffer += ch;
    i += 1;
  }
  flush();
}

function anchor(url) {
  const a = el("a");
  a.href = safeHref(url);
  a.rel = "noopener noreferrer nofollow";
  a.target = "_blank";
  a.textContent = url;
  return a;
}

const DELIMITERS = [
  ["**", "strong"],
  ["__", "strong"],
  ["~~", "del"],
  ["*", "em"],
  ["_", "em"],
];

function delimiter(text, i) {
  for (const [mark, tag] of DELIMITERS) {
    if (!text.startsWith(mark, i)) continue;
    const after = text[i + mark.length];
    if (after === undefined || /\s/.test(after)) continue;
    // Underscores inside words (snake_case) are not emphasis.
    if (mark[0] === "_" && i > 0 && /\w/.test(text[i - 1])) continue;
    let close = text.indexOf(mark, i + mark.length + 1);
    while (close > 0) {
      const before = text[close - 1];
      const next = text[close + mark.length];
      const wordAfter = mark[0] === "_" && next !== undefined && /\w/.test(next);
      const doubled = mark.length === 1 && next === mark; // "*a**" is not "*a*"
      if (!/\s/.test(before) && !wordAfter && !doubled) break;
      close = text.indexOf(mark, close + 1);
    }
    if (close > 0) return { tag, inner: text.slice(i + mark.length, close), end: close + mark.length };
  }
  return null;
}

function linkAt(text, i) {
  let depth = 0;
  let j = i;
  for (; j < text.length; j += 1) {
    if (text[j] === "\\") {
      j += 1;
      continue;
    }
    if (text[j] === "[") depth += 1;
    if (text[j] === "]") {
      depth -= 1;
      if (depth === 0) break;
    }
  }
  if (j >= text.length || text[j + 1] !== "(") return null;
  let k = j + 2;
  let parens = 1;
  for (; k < text.length; k += 1) {
    if (text[k] === "(") parens += 1;
    if (text[k] === ")") {
      parens -= 1;
      if (parens === 0) break;
    }
  }
  if (k >= text.length) return null;
  const target = text.slice(j + 2, k).trim().replace(/\s+"[^"]*"$/, "");
  return { label: text.slice(i + 1, j), href: target.replace(/^<(.*)>$/, "$1"), end: k + 1 };
}
