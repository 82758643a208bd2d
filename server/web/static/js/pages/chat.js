// The chat page: conversations (new, open, rename, delete), replies streamed over SSE with
// stop and regenerate, Markdown rendered as DOM nodes (js/markdown.js), the running
// summary when older turns were folded, a model picker and the skill that answered.

import { renderMarkdown } from "../markdown.js";
import { clear, formatTime, h, useStylesheet } from "../ui.js";

const PAGE_SIZE = 50;
const TITLE_MAX = 200;

/** Render the chat page into ``root``; returns the cleanup (stops a streaming reply). */
export async function mount(root, app) {
  useStylesheet(new URL("../../css/chat.css", import.meta.url));
  const page = new ChatPage(root, app);
  await page.start();
  return () => page.close();
}

class ChatPage {
  constructor(root, app) {
    this.root = root;
    this.app = app;
    this.conversations = [];
    this.nextConversations = null;
    this.current = null; // the open conversation (ConversationOut), or null for a new one
    this.summary = null;
    this.messages = []; // oldest first: {id, role, text, model, finish_reason, ...}
    this.olderCursor = null;
    this.streaming = null; // {controller, reply}
    this.editing = null; // {id, mode: "rename" | "delete"}
    this.model = "";
    this.notice = null;
    this.renderQueued = false;
    this.finishedTurns = 0; // shown as #chat-log[data-finished-turns] (tests wait on it)
    this.closed = false;
  }

  async start() {
    this.build();
    await Promise.all([this.loadModels(), this.loadConversations()]);
    const wanted = this.app.params?.[0]; // #/chat/<conversation id>
    const found = wanted && this.conversations.find((c) => c.id === wanted);
    if (found) await this.open(found);
    else this.renderAll();
  }

  /** Keep the open conversation in the address (#/chat/<id>) without a new page mount. */
  remember() {
    const hash = this.current?.id ? `#/chat/${encodeURIComponent(this.current.id)}` : "#/chat";
    if (location.hash !== hash) history.replaceState(null, "", hash);
  }

  close() {
    this.closed = true;
    this.streaming?.controller.abort();
  }

  // Layout ------------------------------------------------------------------------------

  build() {
    clear(this.root);
    this.listToggle = h(
      "button",
      {
        type: "button",
        class: "chat-list-toggle",
        "aria-controls": "chat-sidebar",
        "aria-expanded": "false",
        onclick: () => this.toggleList(),
      },
      "Conversations",
    );
    this.list = h("ul", { class: "chat-conversations", id: "chat-conversation-list" });
    this.moreConversations = h(
      "button",
      { type: "button", class: "chat-more", onclick: () => this.loadConversations(true) },
      "Show older conversations",
    );
    this.sidebar = h(
      "nav",
      { class: "chat-sidebar", id: "chat-sidebar", "aria-labelledby": "chat-list-heading" },
      h("h2", { id: "chat-list-heading", class: "chat-list-heading" }, "Conversations"),
      h(
        "button",
        { type: "button", class: "primary chat-new", onclick: () => this.newConversation() },
        "New chat",
      ),
      this.list,
      this.moreConversations,
    );
    this.title = h("h2", { class: "chat-title", id: "chat-title" }, "New conversation");
    this.modelSelect = h(
      "select",
      { id: "chat-model", onchange: () => (this.model = this.modelSelect.value) },
      h("option", { value: "" }, "Automatic"),
    );
    this.summaryBox = h("div", { class: "chat-summary", id: "chat-summary" });
    this.older = h(
      "button",
      { type: "button", class: "chat-more", onclick: () => this.loadOlder() },
      "Show older messages",
    );
    this.log = h("div", {
      class: "chat-log",
      id: "chat-log",
      role: "log",
      "aria-live": "polite",
      "aria-labelledby": "chat-title",
      tabindex: "0",
    });
    this.noticeBox = h("p", { class: "chat-notice", id: "chat-notice", role: "status" });
    this.input = h("textarea", {
      id: "chat-input",
      name: "text",
      rows: "2",
      placeholder: "Message the assistant",
      onkeydown: (event) => this.onKey(event),
    });
    this.sendButton = h("button", { type: "submit", class: "primary chat-send" }, "Send");
    this.stopButton = h(
      "button",
      { type: "button", class: "chat-stop", onclick: () => this.stop() },
      "Stop",
    );
    this.regenerateButton = h(
      "button",
      { type: "button", class: "chat-regenerate", onclick: () => this.regenerate() },
      "Regenerate",
    );
    this.form = h(
      "form",
      { class: "chat-composer", onsubmit: (event) => this.onSubmit(event) },
      h("label", { for: "chat-input", class: "chat-input-label" }, "Message"),
      this.input,
      h("div", { class: "chat-actions" }, this.regenerateButton, this.stopButton, this.sendButton),
    );
    const main = h(
      "section",
      { class: "chat-main", "aria-labelledby": "chat-title" },
      h(
        "div",
        { class: "chat-head" },
        this.title,
        h(
          "div",
          { class: "chat-model" },
          h("label", { for: "chat-model" }, "Model"),
          this.modelSelect,
        ),
      ),
      this.summaryBox,
      this.older,
      this.log,
      this.noticeBox,
      this.form,
    );
    this.root.append(
      h(
        "div",
        { class: "chat-page" },
        h("h1", { class: "chat-page-title" }, "Chat"),
        this.listToggle,
        h("div", { class: "chat-columns" }, this.sidebar, main),
      ),
    );
  }

  toggleList(open) {
    const expanded = open ?? this.listToggle.getAttribute("aria-expanded") !== "true";
    this.listToggle.setAttribute("aria-expanded", String(expanded));
    this.sidebar.classList.toggle("open", expanded);
  }

  // Data --------------------------------------------------------------------------------

  async loadModels() {
    try {
      const models = await this.app.api.get("/models");
      const chat = models.installed.filter((m) => m.capability === "llm" || m.capability === "vlm");
      for (const model of chat) {
        const label = model.capability === "vlm" ? `${model.id} (vision)` : model.id;
        this.modelSelect.append(h("option", { value: model.id }, label));
      }
    } catch (error) {
      this.app.toast(`Could not list the models: ${describe(error)}`, "error");
    }
  }

  async loadConversations(more = false) {
    const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (more && this.nextConversations) query.set("before", this.nextConversations);
    try {
      const page = await this.app.api.get(`/chat/conversations?${query}`);
      this.conversations = more ? [...this.conversations, ...page.conversations] : page.conversations;
      this.nextConversations = page.next_before;
    } catch (error) {
      this.app.toast(`Could not load the conversations: ${describe(error)}`, "error");
    }
    this.renderList();
  }

  async open(conversation) {
    if (this.streaming) return;
    this.current = conversation;
    this.messages = [];
    this.olderCursor = null;
    this.summary = null;
    this.notice = null;
    this.toggleList(false);
    this.renderAll();
    await Promise.all([this.loadHistory(), this.loadSummary()]);
    this.renderAll();
  }

  newConversation() {
    if (this.streaming) return;
    this.current = null;
    this.messages = [];
    this.olderCursor = null;
    this.summary = null;
    this.notice = null;
    this.toggleList(false);
    this.renderAll();
    this.input.focus();
  }

  async loadHistory(before = null) {
    const conversation = this.current;
    const query = new URLSearchParams({ conversation_id: conversation.id, limit: String(PAGE_SIZE) });
    if (before) query.set("before", before);
    try {
      const page = await this.app.api.get(`/chat/history?${query}`);
      if (this.current !== conversation) return;
      const older = page.messages.slice().reverse().map(fromStored);
      this.messages = [...older, ...this.messages];
      this.olderCursor = page.next_before;
    } catch (error) {
      this.app.toast(`Could not load the messages: ${describe(error)}`, "error");
    }
  }

  async loadOlder() {
    if (!this.current || !this.olderCursor) return;
    await this.loadHistory(this.olderCursor);
    this.renderAll();
  }

  async loadSummary() {
    const conversation = this.current;
    if (!conversation) return;
    try {
      const detail = await this.app.api.get(`/chat/conversations/${encodeURIComponent(conversation.id)}`);
      if (this.current === conversation) this.summary = detail.summary;
    } catch (error) {
      this.app.toast(`Could not load the conversation: ${describe(error)}`, "error");
    }
  }

  async rename(conversation, title) {
    try {
      const renamed = await this.app.api.patch(
        `/chat/conversations/${encodeURIComponent(conversation.id)}`,
        { title },
      );
      this.conversations = this.conversations.map((c) => (c.id === renamed.id ? renamed : c));
      if (this.current?.id === renamed.id) this.current = { ...this.current, title: renamed.title };
      this.editing = null;
      this.app.toast("Conversation renamed", "success");
    } catch (error) {
      this.app.toast(`Could not rename: ${describe(error)}`, "error");
    }
    this.renderList();
    this.renderHead();
  }

  async remove(conversation) {
    try {
      await this.app.api.delete(`/chat/conversations/${encodeURIComponent(conversation.id)}`);
      this.conversations = this.conversations.filter((c) => c.id !== conversation.id);
      this.editing = null;
      if (this.current?.id === conversation.id) this.newConversation();
      this.app.toast("Conversation deleted", "success");
    } catch (error) {
      this.app.toast(`Could not delete: ${describe(error)}`, "error");
    }
    this.renderList();
  }

  // Turns -------------------------------------------------------------------------------

  onKey(event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      this.form.requestSubmit();
    }
  }

  onSubmit(event) {
    event.preventDefault();
    const text = this.input.value.trim();
    if (!text || this.streaming) return;
    this.input.value = "";
    this.turn(text, null);
  }

  stop() {
    this.streaming?.controller.abort();
  }

  regenerate() {
    const last = this.lastUserMessage();
    if (!last || this.streaming) return;
    this.turn(last.text, last);
  }

  lastUserMessage() {
    for (let i = this.messages.length - 1; i >= 0; i -= 1) {
      if (this.messages[i].role === "user") return this.messages[i].id ? this.messages[i] : null;
    }
    return null;
  }

  async turn(text, replacing) {
    const body = { text };
    if (this.current) body.conversation_id = this.current.id;
    if (this.model) body.model = this.model;
    if (replacing) {
      // Edit-and-resend of the last user message: it and the reply after it are replaced.
      body.replace_message_id = replacing.id;
      this.messages = this.messages.slice(0, this.messages.indexOf(replacing));
    }
    const question = { id: null, role: "user", text };
    const reply = { id: null, role: "assistant", text: "", pending: true };
    this.messages.push(question, reply);
    const controller = new AbortController();
    this.streaming = { controller, reply };
    this.notice = null;
    this.renderAll();
    const onEvent = ({ event, data }) => this.onEvent(event, data, question, reply);
    try {
      await this.app.api.stream("/chat/stream", body, onEvent, { signal: controller.signal });
      if (reply.pending && !reply.error) reply.finish_reason = reply.finish_reason ?? "cancelled";
    } catch (error) {
      if (controller.signal.aborted || error?.name === "AbortError") {
        reply.finish_reason = "cancelled";
      } else {
        reply.error = describe(error);
        if (!question.id) this.messages.splice(this.messages.indexOf(question), 2);
        this.app.toast(`The reply failed: ${describe(error)}`, "error");
        if (!question.id) this.input.value = text;
      }
    } finally {
      reply.pending = false;
      this.streaming = null;
      this.finishedTurns += 1;
      if (!this.closed) {
        this.renderAll();
        this.loadConversations();
      }
    }
  }

  onEvent(event, data, question, reply) {
    if (this.closed) return;
    if (event === "start") {
      question.id = data.user_message_id;
      reply.model = data.model;
      reply.route_reason = data.route_reason;
      if (!this.current || this.current.id !== data.conversation_id) {
        this.current = { id: data.conversation_id, title: question.text.slice(0, 60) };
      }
      this.notice = foldNotice(data.flags);
      if (data.flags?.summarized) this.loadSummary().then(() => this.renderSummary());
      this.renderAll();
    } else if (event === "delta") {
      reply.text += data.text;
      this.queueRender(reply);
    } else if (event === "done") {
      reply.id = data.message_id;
      reply.finish_reason = data.finish_reason;
      reply.first_token_ms = data.timings?.first_token_ms;
      reply.total_ms = data.timings?.total_ms;
      reply.completion_tokens = data.usage?.completion_tokens;
      reply.skill = data.skill ?? null;
      reply.pending = false;
      this.renderAll();
    } else if (event === "error") {
      reply.error = data?.detail || data?.title || "The reply failed";
      reply.pending = false;
      this.renderAll();
    }
  }

  queueRender(reply) {
    if (this.renderQueued) return;
    this.renderQueued = true;
    requestAnimationFrame(() => {
      this.renderQueued = false;
      if (this.closed) return;
      const node = this.log.querySelector(".chat-message.pending .chat-body");
      if (node) {
        clear(node);
        node.append(renderMarkdown(reply.text));
        this.scrollToEnd();
      }
    });
  }

  // Rendering ---------------------------------------------------------------------------

  renderAll() {
    this.renderList();
    this.renderHead();
    this.renderSummary();
    this.renderLog();
    this.renderControls();
  }

  renderHead() {
    this.title.textContent = this.current?.title || "New conversation";
    if (!this.closed) this.remember();
  }

  renderSummary() {
    clear(this.summaryBox);
    if (!this.summary) return;
    this.summaryBox.append(
      h(
        "details",
        { class: "chat-summary-details" },
        h("summary", {}, "Earlier turns are summarised"),
        h("p", { class: "chat-summary-text" }, this.summary),
      ),
    );
  }

  renderList() {
    clear(this.list);
    if (!this.conversations.length) {
      this.list.append(h("li", { class: "chat-empty" }, "No conversations yet"));
    }
    for (const conversation of this.conversations) {
      this.list.append(this.conversationItem(conversation));
    }
    this.moreConversations.hidden = !this.nextConversations;
  }

  conversationItem(conversation) {
    const editing = this.editing?.id === conversation.id ? this.editing.mode : null;
    const item = h("li", { class: "chat-conversation", "data-id": conversation.id });
    if (this.current?.id === conversation.id) item.classList.add("current");
    if (editing === "rename") {
      const inputId = `chat-rename-${conversation.id}`;
      const input = h("input", {
        id: inputId,
        type: "text",
        value: conversation.title,
        maxlength: String(TITLE_MAX),
        required: "",
      });
      const form = h(
        "form",
        {
          class: "chat-rename",
          onsubmit: (event) => {
            event.preventDefault();
            const title = input.value.trim();
            if (title) this.rename(conversation, title);
          },
        },
        h("label", { for: inputId }, "New title"),
        input,
        h("button", { type: "submit" }, "Save"),
        h(
          "button",
          { type: "button", onclick: () => this.edit(null) },
          "Cancel",
        ),
      );
      item.append(form);
      queueMicrotask(() => input.select());
      return item;
    }
    const openButton = h(
      "button",
      { type: "button", class: "chat-open", onclick: () => this.open(conversation) },
      h("span", { class: "chat-open-title" }, conversation.title || "Untitled"),
      h("span", { class: "chat-open-time" }, formatTime(conversation.updated_at)),
    );
    if (this.current?.id === conversation.id) openButton.setAttribute("aria-current", "true");
    item.append(openButton);
    if (editing === "delete") {
      item.append(
        h(
          "div",
          { class: "chat-confirm", role: "group", "aria-label": `Delete ${conversation.title}?` },
          h("span", {}, "Delete it?"),
          h(
            "button",
            { type: "button", class: "danger", onclick: () => this.remove(conversation) },
            "Delete",
          ),
          h("button", { type: "button", onclick: () => this.edit(null) }, "Keep"),
        ),
      );
      return item;
    }
    item.append(
      h(
        "div",
        { class: "chat-item-actions" },
        h(
          "button",
          {
            type: "button",
            class: "chat-rename-button",
            "aria-label": `Rename ${conversation.title}`,
            onclick: () => this.edit(conversation.id, "rename"),
          },
          "Rename",
        ),
        h(
          "button",
          {
            type: "button",
            class: "chat-delete-button",
            "aria-label": `Delete ${conversation.title}`,
            onclick: () => this.edit(conversation.id, "delete"),
          },
          "Delete",
        ),
      ),
    );
    return item;
  }

  edit(id, mode) {
    this.editing = id ? { id, mode } : null;
    this.renderList();
  }

  renderLog() {
    clear(this.log);
    this.older.hidden = !this.olderCursor;
    if (!this.messages.length) {
      this.log.append(
        h("p", { class: "chat-placeholder" }, "Ask anything. Replies are written on this device."),
      );
    }
    for (const message of this.messages) this.log.append(messageNode(message));
    this.log.setAttribute("aria-busy", this.streaming ? "true" : "false");
    this.log.dataset.finishedTurns = String(this.finishedTurns);
    this.noticeBox.textContent = this.notice ?? "";
    this.noticeBox.hidden = !this.notice;
    this.scrollToEnd();
  }

  renderControls() {
    const streaming = Boolean(this.streaming);
    this.stopButton.hidden = !streaming;
    this.sendButton.disabled = streaming;
    const last = this.messages[this.messages.length - 1];
    this.regenerateButton.hidden =
      streaming || !last || last.role !== "assistant" || !this.lastUserMessage();
  }

  scrollToEnd() {
    this.log.scrollTop = this.log.scrollHeight;
  }
}

function fromStored(message) {
  return {
    id: message.id,
    role: message.role,
    text: message.text,
    model: message.model,
    finish_reason: message.finish_reason,
    first_token_ms: message.first_token_ms,
    total_ms: message.total_ms,
    completion_tokens: message.completion_tokens,
    skill: message.skill,
    created_at: message.created_at,
  };
}

function messageNode(message) {
  const assistant = message.role === "assistant";
  const body = h("div", { class: "chat-body" });
  if (assistant) {
    body.append(renderMarkdown(message.text));
  } else {
    message.text.split("\n").forEach((line, index) => {
      if (index) body.append(h("br", {}));
      body.append(document.createTextNode(line));
    });
  }
  const node = h(
    "article",
    { class: `chat-message ${assistant ? "assistant" : "user"}` },
    h("p", { class: "chat-role" }, assistant ? "Assistant" : "You"),
    body,
  );
  if (message.id) node.dataset.id = message.id;
  if (message.pending) {
    node.classList.add("pending");
    if (!message.text) body.append(h("span", { class: "chat-typing" }, "Thinking…"));
  }
  const meta = assistant ? metaOf(message) : [];
  if (meta.length) node.append(h("p", { class: "chat-meta" }, ...meta));
  if (message.error) node.append(h("p", { class: "chat-error", role: "alert" }, message.error));
  return node;
}

function metaOf(message) {
  const parts = [];
  if (message.skill) {
    parts.push(
      h(
        "span",
        { class: "chat-skill", title: `${message.skill.intent} (${message.skill.stage})` },
        `Skill: ${message.skill.name}`,
      ),
    );
  }
  const facts = [];
  if (message.model && !message.skill) facts.push(message.model);
  if (message.first_token_ms != null && !message.pending) {
    facts.push(`first token ${message.first_token_ms} ms`);
  }
  if (message.total_ms != null && !message.pending) facts.push(`total ${message.total_ms} ms`);
  if (message.finish_reason === "cancelled") facts.push("stopped");
  if (message.finish_reason === "length") facts.push("cut at the length limit");
  if (facts.length) parts.push(h("span", { class: "chat-facts" }, facts.join(" · ")));
  return parts;
}

function foldNotice(flags) {
  if (!flags) return null;
  if (flags.summarized) {
    return `Older turns were folded into the summary (${flags.dropped_turns} messages no longer sent word for word).`;
  }
  if (flags.dropped_turns > 0) {
    return `${flags.dropped_turns} older messages are read from the summary.`;
  }
  return null;
}

function describe(error) {
  return error?.detail || error?.title || error?.message || String(error);
}
