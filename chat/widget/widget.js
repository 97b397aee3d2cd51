/* MiniRAG chat widget: <minirag-chat bot-key="pk_…">, or <script src="…/widget.js" data-bot-key="pk_…" async>.
 * No framework, no build step, nothing from a CDN. What the model or a source says reaches the page only as text
 * nodes (textContent, createTextNode), never parsed as HTML. Served by chat/public_views.py; README "Put a bot on
 * your website" documents the attributes and the theme variables. */
(() => {
  "use strict";
  if (!window.customElements || customElements.get("minirag-chat")) return; // old browser, or included twice

  const SCRIPT = document.currentScript;
  const SCRIPT_BASE = SCRIPT && SCRIPT.src ? new URL("./", SCRIPT.src).href : location.origin + "/";
  const HISTORY_LIMIT = 100;
  const THUMB = "M2 10h4v11H2zM8 21h9.6a2 2 0 0 0 1.9-1.4l2.4-7A2 2 0 0 0 20 10h-5.4l.9-4.6A2 2 0 0 0 13.4 3L8 9.6z";
  const CSS = `
:host{--p:var(--minirag-primary,#2f5bea);--op:var(--minirag-on-primary,#fff);--bg:var(--minirag-bg,#fff);
--sf:var(--minirag-surface,#f1f3f7);--tx:var(--minirag-text,#16181d);--mu:var(--minirag-muted,#5b6270);
--bd:var(--minirag-border,#d9dde5);--r:var(--minirag-radius,14px);--er:var(--minirag-error,#b42318);
--of:var(--minirag-offset,20px);--z:var(--minirag-z-index,2147483000);
font:15px/1.45 var(--minirag-font,system-ui,-apple-system,"Segoe UI",Roboto,sans-serif);color:var(--tx)}
*{box-sizing:border-box}[hidden]{display:none!important}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
button{font:inherit;cursor:pointer}
:focus-visible{outline:2px solid var(--p);outline-offset:2px}
.bubble{position:fixed;right:var(--of);bottom:var(--of);z-index:var(--z);width:58px;height:58px;border:0;
border-radius:50%;background:var(--p);color:var(--op);box-shadow:0 6px 20px #0004;display:grid;place-items:center}
.bubble svg{width:28px;height:28px;fill:currentColor}
.panel{display:flex;flex-direction:column;background:var(--bg);color:var(--tx);overflow:hidden}
:host(:not([mode=page]):not([mode=inline])) .panel{position:fixed;right:var(--of);bottom:calc(var(--of) + 70px);z-index:var(--z);
width:min(var(--minirag-width,390px),calc(100vw - 24px));height:min(var(--minirag-height,600px),calc(100vh - 110px));
border:1px solid var(--bd);border-radius:var(--r);box-shadow:0 12px 40px #0004}
:host([mode=page]){position:fixed;inset:0;background:var(--minirag-page-bg,var(--sf))}
:host([mode=inline]){display:block;height:var(--minirag-height,600px)}
:host([mode=inline]) .panel{height:100%;border:1px solid var(--bd);border-radius:var(--r)}
:host([mode=page]) .panel{height:100%;max-width:860px;margin:0 auto;border-inline:1px solid var(--bd)}
header{display:flex;align-items:center;gap:8px;padding:12px 16px;background:var(--p);color:var(--op)}
h2{font-size:16px;margin:0;flex:1}
.close{border:0;background:none;color:inherit;font-size:22px;line-height:1;padding:2px 8px;border-radius:6px}
.log{flex:1;overflow-y:auto;padding:14px;display:flex;flex-direction:column;gap:10px}
.msg{max-width:88%;padding:9px 12px;border-radius:var(--r);overflow-wrap:anywhere}
.user{align-self:flex-end;background:var(--p);color:var(--op);white-space:pre-wrap}
.bot{align-self:flex-start;background:var(--sf)}
.note{color:var(--mu)}
.err{align-self:stretch;max-width:100%;background:var(--bg);color:var(--er);border:1px solid currentColor}
.md>:first-child{margin-top:0}.md>:last-child{margin-bottom:0}
.md p,.md ul,.md ol,.md pre,.md blockquote{margin:0 0 8px}.md ul,.md ol{padding-left:20px}
.md blockquote{border-left:3px solid var(--bd);padding-left:8px;color:var(--mu)}
code{font:13px ui-monospace,Menlo,Consolas,monospace;background:#0000000f;padding:1px 4px;border-radius:4px}
pre{overflow-x:auto;background:#0000000f;padding:8px;border-radius:8px}pre code{background:none;padding:0}
a{color:var(--p)}.user a{color:inherit}
.cite{border:0;background:none;color:var(--p);padding:0 1px;font-size:12px;font-weight:700}sup{line-height:0}
.typing:empty::after{content:"…";color:var(--mu)}
.src{margin:8px 0 0;padding:8px 0 0 22px;border-top:1px solid var(--bd);font-size:13px;color:var(--mu)}
.src .hl{color:var(--tx);font-weight:600}
.fb{display:flex;gap:4px;margin-top:6px}
.fb button{border:1px solid var(--bd);background:var(--bg);color:var(--mu);border-radius:8px;padding:3px 8px;
display:grid}.fb svg{width:15px;height:15px;fill:currentColor}
.fb button[aria-pressed=true]{background:var(--p);border-color:var(--p);color:var(--op)}
form{display:flex;gap:8px;padding:10px;border-top:1px solid var(--bd)}
textarea{flex:1;resize:none;font:inherit;color:var(--tx);background:var(--bg);border:1px solid var(--bd);
border-radius:10px;padding:8px 10px;max-height:140px}
.send{border:0;border-radius:10px;padding:0 16px;background:var(--p);color:var(--op);font-weight:600}
.send:disabled{opacity:.55;cursor:default}
.foot{font-size:11px;color:var(--mu);text-align:center;padding:0 8px 6px}`;

  // --- DOM helpers: text only, no HTML parsing anywhere in this file
  const txt = (s) => document.createTextNode(s);
  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v != null) node.setAttribute(k, v);
    if (text != null) node.textContent = text;
    return node;
  }
  function safeUrl(href) {
    try {
      const url = new URL(href);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (e) {
      return null;
    }
  }
  function icon(d, turn) { // drawn, not an emoji: not every system has an emoji font
    const ns = "http://www.w3.org/2000/svg", svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    const path = svg.appendChild(document.createElementNS(ns, "path"));
    path.setAttribute("d", d);
    if (turn) path.setAttribute("transform", "rotate(180 12 12)");
    return svg;
  }
  function link(label, href) {
    const url = safeUrl(href);
    return url ? el("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, label) : txt(label);
  }

  // --- Markdown (a small subset), built as DOM nodes
  const INLINE = new RegExp([
    "(`+)([^`]|[^`][\\s\\S]*?[^`])\\1(?!`)", // 1,2 code span
    "\\*\\*(?=\\S)([\\s\\S]*?\\S)\\*\\*", // 3 bold (no _x_ forms: they would mangle snake_case)
    "\\*(?=[^\\s*])([\\s\\S]*?[^\\s*])\\*", // 4 italic
    "\\[([^\\[\\]]+)\\]\\(\\s*<?([^()\\s<>]+)>?\\s*\\)", // 5,6 link
    "\\[(\\d{1,3}(?:\\s*,\\s*\\d{1,3})*)\\]", // 7 citations: [1] or [1, 2]
    "(https?://[^\\s<>()\\[\\]]*[^\\s<>()\\[\\].,;:!?'\"])", // 8 bare URL
  ].join("|"));

  function inline(parent, text, cite) {
    while (text) {
      const m = INLINE.exec(text);
      if (!m) return void parent.appendChild(txt(text));
      if (m.index) parent.appendChild(txt(text.slice(0, m.index)));
      let node;
      if (m[1]) node = el("code", null, m[2]);
      else if (m[3] || m[4]) inline((node = el(m[3] ? "strong" : "em")), m[3] || m[4], cite);
      else if (m[5]) node = link(m[5], m[6]);
      else if (m[7]) {
        node = document.createDocumentFragment();
        for (const n of m[7].split(",")) node.appendChild(cite(parseInt(n, 10)));
      } else node = link(m[8], m[8]);
      parent.appendChild(node);
      text = text.slice(m.index + m[0].length);
    }
  }

  // Paragraphs (single newlines kept), lists, headings (shown bold), fenced code, quotes, rules.
  function markdown(source, cite) {
    const out = document.createDocumentFragment();
    const lines = String(source).replace(/\r\n?/g, "\n").split("\n");
    let para = [], list = null, i = 0, m;
    const flush = () => {
      if (!para.length) return;
      const p = out.appendChild(el("p"));
      para.forEach((line, k) => { if (k) p.appendChild(el("br")); inline(p, line, cite); });
      para = [];
    };
    const block = (node) => { flush(); list = null; return out.appendChild(node); };
    while (i < lines.length) {
      const line = lines[i++];
      if ((m = /^\s*(```+|~~~+)/.exec(line))) {
        const code = [];
        while (i < lines.length && !lines[i].trim().startsWith(m[1])) code.push(lines[i++]);
        i++;
        block(el("pre")).appendChild(el("code", null, code.join("\n")));
      } else if (!line.trim()) { flush(); list = null; }
      else if ((m = /^\s{0,3}#{1,6}\s+(.*?)[\s#]*$/.exec(line))) inline(block(el("p")).appendChild(el("strong")), m[1], cite);
      else if (/^\s{0,3}([-*_])(\s*\1){2,}\s*$/.test(line)) block(el("hr"));
      else if ((m = /^\s{0,3}([-*+•]|(\d{1,9})[.)])\s+(.*)$/.exec(line))) {
        const tag = m[2] ? "OL" : "UL";
        if (!list || list.tagName !== tag) {
          list = block(el(tag));
          if (m[2] && m[2] !== "1") list.setAttribute("start", String(parseInt(m[2], 10)));
        }
        inline(list.appendChild(el("li")), m[3], cite);
      } else if (list && /^\s{2,}\S/.test(line)) {
        list.lastChild.appendChild(txt(" "));
        inline(list.lastChild, line.trim(), cite);
      } else if ((m = /^\s{0,3}>\s?(.*)$/.exec(line))) inline(block(el("blockquote")), m[1], cite);
      else { list = null; para.push(line); }
    }
    flush();
    return out;
  }

  // --- Server-sent events over fetch (EventSource cannot send an Authorization header)
  function sseParser(onEvent) {
    let buffer = "";
    const dispatch = (block) => {
      let name = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (!line || line[0] === ":") continue; // comments are keep-alives
        const at = line.indexOf(":");
        const field = at < 0 ? line : line.slice(0, at);
        let value = at < 0 ? "" : line.slice(at + 1);
        if (value[0] === " ") value = value.slice(1);
        if (field === "event") name = value;
        else if (field === "data") data.push(value);
      }
      if (data.length) onEvent(name, data.join("\n"));
    };
    return (chunk, end) => {
      buffer += chunk;
      const hold = !end && buffer.endsWith("\r") ? 1 : 0; // maybe half of "\r\n": wait for the next chunk
      const parts = buffer.slice(0, buffer.length - hold).replace(/\r\n?/g, "\n").split("\n\n");
      buffer = (end ? "" : parts.pop()) + (hold ? "\r" : "");
      parts.forEach((part) => part && dispatch(part));
    };
  }

  function detailOf(body, status) {
    let d = body && body.detail;
    if (Array.isArray(d)) d = d.map((x) => (typeof x === "string" ? x : x.msg || JSON.stringify(x))).join("; ");
    else if (d && typeof d === "object") d = JSON.stringify(d);
    return typeof d === "string" && d ? d : `The chat service answered ${status}.`;
  }
  const UNREACHABLE = "Could not reach the chat service. This site may not be allowed to use this chat, or the " +
    "connection dropped.";

  function hashKey(key) { // FNV-1a: names the conversation's storage slot without storing the key itself
    let h = 0x811c9dc5;
    for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193) >>> 0;
    return h.toString(16);
  }
  const session = { // sessionStorage may be off (privacy modes, sandboxed frames): then a reload starts over
    get: (k) => { try { return sessionStorage.getItem(k); } catch (e) { return null; } },
    set: (k, v) => { try { sessionStorage.setItem(k, v); } catch (e) { /* off */ } },
    del: (k) => { try { sessionStorage.removeItem(k); } catch (e) { /* off */ } },
  };
  const sourceLabel = (s) => (s.source_name || "Source") + (s.page ? `, page ${s.page}` : "") +
    (s.section && s.section !== s.source_name ? ` — ${s.section}` : ""); // a text without headings: its name

  class MiniragChat extends HTMLElement {
    connectedCallback() {
      if (this.ui) return;
      const page = ["page", "inline"].includes(this.getAttribute("mode")); // no bubble: always open
      this.key = this.getAttribute("bot-key") || "";
      if (!this.key && this.hasAttribute("key-from-hash")) { // the hosted page: /c/<key id>#<key>
        try { this.key = decodeURIComponent(location.hash.slice(1)); } catch (e) { this.key = ""; }
      }
      this.base = new URL(this.getAttribute("api-base") || SCRIPT_BASE, location.href).href.replace(/\/?$/, "/");
      this.bot = this.getAttribute("bot-id") || "";
      this.heading = this.getAttribute("title") || "Chat";
      this.removeAttribute("title"); // else it would be the tooltip of the whole chat
      this.slot_ = "minirag-chat:" + hashKey(this.key);
      const root = this.attachShadow({ mode: "open" });
      if ("adoptedStyleSheets" in root) { // constructed sheets pass a strict style-src CSP; <style> would not
        const sheet = new CSSStyleSheet();
        sheet.replaceSync(CSS);
        root.adoptedStyleSheets = [sheet];
      } else root.appendChild(el("style", null, CSS));
      this.build(root, page);
      if (!this.key) this.note("This chat has no key: the link or the embed code is incomplete.", true);
      else if (page) this.open();
    }

    build(root, page) {
      const ui = (this.ui = {});
      if (!page) {
        ui.bubble = root.appendChild(el("button", { type: "button", class: "bubble", "aria-expanded": "false",
          "aria-controls": "panel", "aria-label": `Open chat: ${this.heading}` }));
        ui.bubble.appendChild(icon("M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4V5a2 2 0 0 1 2-2z"));
        ui.bubble.addEventListener("click", () => this.toggle());
      }
      ui.panel = root.appendChild(el("section", { id: "panel", class: "panel", role: page ? "region" : "dialog",
        "aria-labelledby": "title" }));
      ui.panel.hidden = !page;
      const head = ui.panel.appendChild(el("header"));
      head.appendChild(el("h2", { id: "title" }, this.heading));
      if (!page) {
        head.appendChild(el("button", { type: "button", class: "close", "aria-label": "Close chat" }, "×"))
          .addEventListener("click", () => this.toggle(false));
      }
      ui.log = ui.panel.appendChild(el("div", { class: "log", role: "log", "aria-live": "polite",
        "aria-label": "Conversation", tabindex: "0" }));
      ui.status = ui.panel.appendChild(el("div", { class: "sr", role: "status" }));
      const form = ui.panel.appendChild(el("form"));
      form.appendChild(el("label", { class: "sr", for: "input" }, "Your message"));
      ui.input = form.appendChild(el("textarea", { id: "input", rows: "1", maxlength: "4000",
        placeholder: this.getAttribute("placeholder") || "Ask a question…" }));
      ui.send = form.appendChild(el("button", { type: "submit", class: "send" }, "Send"));
      ui.panel.appendChild(el("div", { class: "foot" }, "Answers come from this site's documents and can be wrong."));
      form.addEventListener("submit", (e) => { e.preventDefault(); this.send(); });
      ui.input.addEventListener("keydown", (e) => {
        if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); this.send(); }
      });
      ui.input.addEventListener("input", () => {
        ui.input.style.height = "auto";
        ui.input.style.height = Math.min(ui.input.scrollHeight, 140) + "px";
      });
      root.addEventListener("keydown", (e) => {
        if (e.key === "Escape" && ui.bubble && !ui.panel.hidden) { e.stopPropagation(); this.toggle(false); }
      });
    }

    toggle(open) {
      const ui = this.ui;
      if (!ui.bubble) return;
      open = open === undefined ? ui.panel.hidden : open;
      ui.panel.hidden = !open;
      ui.bubble.setAttribute("aria-expanded", String(open));
      ui.bubble.setAttribute("aria-label", `${open ? "Close" : "Open"} chat: ${this.heading}`);
      if (open) this.open();
      else ui.bubble.focus();
    }

    open() {
      if (!this.started) {
        this.started = true;
        this.note(this.getAttribute("welcome") || "Hello! Ask me anything about this site.");
        const chatId = session.get(this.slot_);
        if (chatId && this.key) this.restore(chatId);
      }
      setTimeout(() => this.ui.input.focus(), 0);
    }

    api(method, path, body) {
      const init = { method, mode: "cors", credentials: "omit",
        headers: { Authorization: `Bearer ${this.key}`, Accept: "text/event-stream, application/json" } };
      if (body !== undefined) {
        init.headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(body);
      }
      return fetch(new URL(path, this.base).href, init).then(async (r) => {
        if (r.ok) return r;
        throw new Error(detailOf(await r.json().catch(() => null), r.status));
      });
    }

    restore(chatId) { // a reload within the session: show the conversation so far, then continue it
      this.chatId = chatId;
      this.ui.log.setAttribute("aria-busy", "true");
      this.api("GET", `v1/chat/${encodeURIComponent(chatId)}/messages?limit=${HISTORY_LIMIT}`)
        .then((r) => r.json())
        .then((messages) => {
          for (const m of messages) {
            if (m.role === "user") this.userBubble(m.content);
            else if (m.role === "assistant") this.answerBubble(m).finish(m);
          }
          if (messages.length) this.say("Earlier conversation restored.");
        })
        .catch(() => { session.del(this.slot_); this.chatId = null; }) // gone, or not this key's: start over
        .finally(() => this.ui.log.removeAttribute("aria-busy"));
    }

    say(text) { this.ui.status.textContent = text; }
    scroll() { this.ui.log.scrollTop = this.ui.log.scrollHeight; }
    note(text, error) {
      const node = this.ui.log.appendChild(el("div", { class: error ? "msg err" : "msg bot note",
        role: error ? "alert" : null }, text));
      this.scroll();
      return node;
    }
    userBubble(text) {
      const node = this.ui.log.appendChild(el("div", { class: "msg user" }));
      node.append(el("span", { class: "sr" }, "You: "), txt(text));
      this.scroll();
    }

    // One answer: its text (re-rendered while it streams), citations, the sources it cites, feedback buttons.
    answerBubble(message) {
      const node = this.ui.log.appendChild(el("div", { class: "msg bot" }));
      node.appendChild(el("span", { class: "sr" }, `${this.heading}: `));
      const body = node.appendChild(el("div", { class: "md typing" }));
      const state = { text: (message && message.content) || "", sources: (message && message.sources) || [] };
      let cited = new Set(), list = null, pending = false;
      const cite = (n) => {
        const s = state.sources[n - 1];
        if (!s) return txt(`[${n}]`);
        cited.add(n);
        const sup = el("sup");
        sup.appendChild(el("button", { type: "button", class: "cite", title: sourceLabel(s),
          "aria-label": `Source ${n}: ${sourceLabel(s)}` }, String(n))).addEventListener("click", () => {
          const item = list && list.querySelector(`[data-n="${n}"]`);
          if (!item) return;
          for (const li of list.children) li.classList.toggle("hl", li === item);
          item.focus();
        });
        return sup;
      };
      const render = () => {
        pending = false;
        cited = new Set();
        body.replaceChildren(markdown(state.text, cite));
        this.scroll();
      };
      const showSources = () => {
        let numbers = [...cited].sort((a, b) => a - b);
        if (!numbers.length) numbers = state.sources.map((_, k) => k + 1);
        if (!numbers.length) return;
        if (list) list.remove();
        list = el("ol", { class: "src", "aria-label": "Sources" });
        body.after(list);
        for (const n of numbers) {
          const s = state.sources[n - 1];
          const li = list.appendChild(el("li", { value: String(n), tabindex: "-1", "data-n": String(n),
            title: s.content || null }));
          li.appendChild(safeUrl(s.source_name || "") ? link(sourceLabel(s), s.source_name) : txt(sourceLabel(s)));
        }
      };
      return {
        node,
        text: () => state.text,
        setSources: (sources) => { state.sources = Array.isArray(sources) ? sources : []; },
        append: (chunk) => {
          state.text += chunk;
          if (!pending) { pending = true; requestAnimationFrame(render); }
        },
        finish: (done) => {
          render();
          body.classList.remove("typing");
          showSources();
          const messageId = done && (done.message_id || done.id);
          const chatId = (done && done.chat_id) || this.chatId;
          if (messageId && chatId) this.feedback(node, chatId, messageId, message && message.feedback);
          this.scroll();
        },
      };
    }

    feedback(node, chatId, messageId, current) {
      const group = node.appendChild(el("div", { class: "fb", role: "group", "aria-label": "Was this answer helpful?" }));
      const buttons = {};
      for (const [value, label, turn] of [["positive", "Helpful"], ["negative", "Not helpful", 1]]) {
        const button = (buttons[value] = group.appendChild(el("button", { type: "button", title: label,
          "aria-label": label, "aria-pressed": String(current === value) })));
        button.appendChild(icon(THUMB, turn));
        button.addEventListener("click", () => {
          const chosen = button.getAttribute("aria-pressed") === "true" ? null : value; // pressing again clears
          const before = Object.values(buttons).map((b) => [b, b.getAttribute("aria-pressed")]);
          for (const [k, b] of Object.entries(buttons)) b.setAttribute("aria-pressed", String(k === chosen));
          this.api("PATCH", `v1/chat/${chatId}/messages/${messageId}/feedback`, { feedback: chosen })
            .then(() => this.say(chosen ? "Thanks for the feedback." : "Feedback removed."))
            .catch((e) => {
              for (const [b, pressed] of before) b.setAttribute("aria-pressed", pressed);
              this.say(`Feedback was not saved: ${e.message}`);
            });
        });
      }
    }

    send() {
      const ui = this.ui;
      const text = ui.input.value.trim();
      if (!text || this.busy || !this.key) return;
      ui.input.value = "";
      ui.input.style.height = "";
      this.busy = true;
      ui.send.disabled = true;
      this.userBubble(text);
      const answer = this.answerBubble(null);
      ui.log.setAttribute("aria-busy", "true"); // screen readers read the answer once, when it is complete
      this.say("Answering…");
      let finished = false;
      const release = () => { // on `done`/`error`, not when the connection closes: the next question can go at once
        this.busy = false;
        ui.send.disabled = false;
        ui.log.removeAttribute("aria-busy");
      };
      const fail = (message) => {
        finished = true;
        release();
        if (answer.text()) answer.finish(null);
        else answer.node.remove();
        this.note(message, true);
      };
      const onEvent = (name, data) => {
        let payload;
        try { payload = JSON.parse(data); } catch (e) { return; }
        if (finished) return;
        if (name === "sources") answer.setSources(payload.sources);
        else if (name === "delta" || name === "token") answer.append(payload.content || payload.token || "");
        else if (name === "error") fail(detailOf(payload, "an error"));
        else if (name === "done") {
          finished = true;
          release();
          if (payload.chat_id) { this.chatId = payload.chat_id; session.set(this.slot_, payload.chat_id); }
          answer.finish(payload);
          this.say("Answer ready.");
        }
      };
      const body = { message: text, stream: true };
      if (this.bot) body.bot_profile_id = this.bot;
      if (this.chatId) body.chat_id = this.chatId;
      this.api("POST", "v1/chat", body)
        .then(async (r) => {
          if (!(r.headers.get("Content-Type") || "").includes("text/event-stream")) {
            throw new Error("The chat service sent an unexpected answer.");
          }
          const reader = r.body.getReader(), decoder = new TextDecoder(), feed = sseParser(onEvent);
          for (;;) {
            const { done, value } = await reader.read();
            if (done) return feed(decoder.decode(), true);
            feed(decoder.decode(value, { stream: true }), false);
          }
        })
        .then(() => { if (!finished) fail("The answer was interrupted. Please try again."); })
        .catch((e) => { if (!finished) fail(e instanceof TypeError ? UNREACHABLE : e.message); });
    }
  }
  customElements.define("minirag-chat", MiniragChat);

  // <script src="…/widget.js" data-bot-key="pk_…" async> adds the bubble; data-* set the element's attributes.
  if (SCRIPT && SCRIPT.dataset.botKey) {
    const widget = document.createElement("minirag-chat");
    const names = { botKey: "bot-key", botId: "bot-id", title: "title", welcome: "welcome",
      placeholder: "placeholder", apiBase: "api-base" };
    for (const [data, attr] of Object.entries(names)) if (SCRIPT.dataset[data]) widget.setAttribute(attr, SCRIPT.dataset[data]);
    if (document.body) document.body.appendChild(widget);
    else document.addEventListener("DOMContentLoaded", () => document.body.appendChild(widget));
  }
})();
