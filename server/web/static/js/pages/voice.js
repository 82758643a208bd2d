// The voice page: push-to-talk (hold the button or Space; pressing during a reply barges
// in) and hands-free (the device listens for the wake word), over WS /api/v1/voice/stream.
// The microphone goes through an AudioWorklet to 16 kHz PCM; the reply plays as it
// streams; each turn shows what was heard, the reply and where the time went.

import { clear, h } from "../ui.js";
import { Microphone, ReplyPlayer, STAGES, audioContext, stageLatencies } from "../voice-audio.js";

const MIC_IDLE_SECONDS = 20; // push-to-talk: the microphone closes after this long unused
const MAX_TURNS = 10;

/** Render the voice page into ``root``; the cleanup closes the socket and the microphone. */
export async function mount(root, app) {
  useStyles("voice", new URL("../../css/voice.css", import.meta.url));
  const page = new VoicePage(root, app);
  page.start();
  return () => page.close();
}

/** Link the page's stylesheet once (CSP: style-src 'self'; no inline styles). */
function useStyles(name, href) {
  if (document.querySelector(`link[data-page-styles="${name}"]`)) return;
  const link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = href;
  link.dataset.pageStyles = name;
  document.head.append(link);
}

class VoicePage {
  constructor(root, app) {
    this.root = root;
    this.app = app;
    this.mode = "push"; // or "hands-free"
    this.socket = null;
    this.ready = false;
    this.context = null;
    this.microphone = null;
    this.player = null;
    this.held = false;
    this.pressing = Promise.resolve();
    this.speaking = false;
    this.turns = []; // newest first: {runId, events, heard, reply, skill, outcome, audioSeconds}
    this.runs = new Map();
    this.idleTimer = null;
    this.playbackTimer = null;
    this.replyTurn = null;
    this.closed = false;
    this.onKeyDown = (event) => this.keyDown(event);
    this.onKeyUp = (event) => this.keyUp(event);
    this.onBlur = () => this.release();
  }

  start() {
    this.build();
    document.addEventListener("keydown", this.onKeyDown);
    document.addEventListener("keyup", this.onKeyUp);
    window.addEventListener("blur", this.onBlur);
    this.connect();
  }

  close() {
    this.closed = true;
    document.removeEventListener("keydown", this.onKeyDown);
    document.removeEventListener("keyup", this.onKeyUp);
    window.removeEventListener("blur", this.onBlur);
    clearTimeout(this.idleTimer);
    clearTimeout(this.playbackTimer);
    this.disconnect();
    this.microphone?.close();
    this.player?.stop();
    this.context?.close();
  }

  // Layout ------------------------------------------------------------------------------

  build() {
    clear(this.root);
    const modeInput = (value, label, hint) => {
      const id = `voice-mode-${value}`;
      const input = h("input", {
        type: "radio",
        name: "voice-mode",
        id,
        value,
        onchange: () => this.setMode(value),
      });
      input.checked = value === this.mode;
      return h(
        "div",
        { class: "voice-mode-option" },
        input,
        h("label", { for: id }, label),
        h("span", { class: "voice-hint" }, hint),
      );
    };
    this.talk = h(
      "button",
      {
        type: "button",
        id: "voice-talk",
        class: "voice-talk",
        "aria-pressed": "false",
        "aria-describedby": "voice-talk-hint",
        onpointerdown: (event) => this.pointerDown(event),
        onpointerup: () => this.release(),
        onpointercancel: () => this.release(),
        onlostpointercapture: () => this.release(),
        oncontextmenu: (event) => event.preventDefault(),
      },
      "Hold to talk",
    );
    this.listenToggle = h(
      "button",
      { type: "button", id: "voice-listen", class: "voice-listen", onclick: () => this.toggleHandsFree() },
      "Start listening",
    );
    this.status = h("p", { id: "voice-status", class: "voice-status", role: "status" }, "Connecting…");
    this.micState = h("p", { id: "voice-mic", class: "voice-mic" }, "Microphone off");
    this.turnList = h("ol", { id: "voice-turns", class: "voice-turns", reversed: "" });
    this.reconnectButton = h(
      "button",
      { type: "button", class: "voice-reconnect", onclick: () => this.connect() },
      "Reconnect",
    );
    this.reconnectButton.hidden = true;
    this.root.append(
      h(
        "div",
        { class: "voice-page" },
        h("h1", { class: "voice-title" }, "Voice"),
        h(
          "fieldset",
          { class: "voice-modes" },
          h("legend", {}, "How to start a question"),
          modeInput("push", "Push to talk", "Hold the button or the Space bar while you speak."),
          modeInput("hands-free", "Hands-free", "Say the wake word; the device listens for it."),
        ),
        h(
          "div",
          { class: "voice-controls" },
          this.talk,
          this.listenToggle,
          h(
            "p",
            { id: "voice-talk-hint", class: "voice-hint" },
            "Press again while the assistant answers to interrupt it.",
          ),
        ),
        this.status,
        this.micState,
        this.reconnectButton,
        h("h2", { class: "voice-turns-heading" }, "Turns"),
        this.turnList,
      ),
    );
    this.renderControls();
    this.renderTurns();
  }

  renderControls() {
    this.listenToggle.hidden = this.mode !== "hands-free";
    this.listenToggle.textContent = this.microphone?.isOpen ? "Stop listening" : "Start listening";
    this.listenToggle.setAttribute("aria-pressed", String(Boolean(this.microphone?.isOpen)));
    this.micState.textContent = this.microphone?.isOpen ? "Microphone on" : "Microphone off";
    this.micState.classList.toggle("on", Boolean(this.microphone?.isOpen));
    this.talk.disabled = !this.ready;
    this.talk.setAttribute("aria-pressed", String(this.held));
    this.talk.classList.toggle("held", this.held);
    this.talk.textContent = this.held ? "Listening… release to send" : "Hold to talk";
  }

  setStatus(text) {
    this.status.textContent = text;
  }

  // The socket --------------------------------------------------------------------------

  async connect() {
    this.disconnect();
    this.ready = false;
    this.lastError = null;
    this.reconnectButton.hidden = true;
    this.setStatus("Connecting…");
    this.renderControls();
    let socket;
    try {
      socket = await this.app.api.websocket("/voice/stream");
    } catch (error) {
      this.setStatus(`Could not connect: ${error?.message ?? error}`);
      this.reconnectButton.hidden = false;
      return;
    }
    if (this.closed) {
      socket.close();
      return;
    }
    this.socket = socket;
    socket.binaryType = "arraybuffer";
    const handsFree = this.mode === "hands-free";
    const sendStart = () =>
      socket.send(
        JSON.stringify({
          type: "start",
          rate: 16000,
          channels: 1,
          mode: "conversation",
          wake_word: handsFree,
          push_to_talk: !handsFree,
        }),
      );
    if (socket.readyState === WebSocket.OPEN) sendStart();
    else socket.addEventListener("open", sendStart, { once: true });
    socket.addEventListener("message", (event) => {
      if (socket === this.socket) this.onMessage(event.data);
    });
    socket.addEventListener("close", () => {
      if (socket !== this.socket || this.closed) return;
      this.socket = null;
      this.ready = false;
      this.setStatus(
        this.lastError
          ? `Disconnected from the device: ${this.lastError}`
          : "Disconnected from the device.",
      );
      this.reconnectButton.hidden = false;
      this.renderControls();
    });
  }

  disconnect() {
    const socket = this.socket;
    this.socket = null;
    if (!socket) return;
    try {
      if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "stop" }));
    } finally {
      socket.close();
    }
  }

  send(message) {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  onFrame(buffer) {
    if (this.ready && this.socket?.readyState === WebSocket.OPEN) this.socket.send(buffer);
  }

  onMessage(data) {
    if (typeof data !== "string") {
      this.player?.push(data);
      const turn = this.turns[0];
      if (turn && this.player) {
        turn.audioSeconds = this.player.receivedSeconds;
        this.renderTurn(turn);
      }
      return;
    }
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      return;
    }
    switch (message.type) {
      case "ready":
        this.ready = true;
        this.setStatus(this.idleText());
        this.renderControls();
        break;
      case "audio-start":
        this.speaking = true;
        this.player?.begin({ rate: message.rate, width: message.width, channels: message.channels });
        this.setStatus("Speaking… press to interrupt.");
        break;
      case "audio-end":
        this.speaking = false;
        if (message.stopped) this.cutReply();
        this.afterPlayback();
        break;
      case "end":
        this.ready = false;
        this.renderControls();
        break;
      case "error":
        if (message.problem) {
          this.lastError = message.problem.detail || message.problem.title;
          this.setStatus(`Error: ${this.lastError}`);
          this.app.toast(message.problem.detail || message.problem.title, "error");
        } else {
          this.pipelineEvent(message);
        }
        break;
      default:
        if (message.run_id) this.pipelineEvent(message);
    }
  }

  idleText() {
    return this.mode === "hands-free"
      ? this.microphone?.isOpen
        ? "Say the wake word, then your question."
        : "Start listening, then say the wake word."
      : "Hold the button (or Space) and speak.";
  }

  // Pipeline events ----------------------------------------------------------------------

  pipelineEvent(event) {
    let turn = this.runs.get(event.run_id);
    if (!turn) {
      turn = { runId: event.run_id, events: [], heard: null, reply: "", skill: null, outcome: null, audioSeconds: 0, error: null, shown: false };
      this.runs.set(event.run_id, turn);
    }
    turn.events.push(event);
    switch (event.type) {
      case "wake-word-start":
        this.setStatus(this.idleText());
        break;
      case "wake-word-end":
        if (event.word) {
          this.cutReply(); // the wake word barges in on a reply still playing here
          this.setStatus(`Heard “${event.word}”. Listening…`);
        }
        break;
      case "stt-start":
        if (event.trigger !== "follow-up") this.cutReply();
        this.show(turn);
        this.setStatus("Listening…");
        break;
      case "stt-vad-start":
        this.setStatus("Hearing you…");
        break;
      case "stt-vad-end":
        this.setStatus("Transcribing…");
        break;
      case "stt-end":
        turn.heard = event.text;
        break;
      case "chat-start":
        this.setStatus("Thinking…");
        break;
      case "chat-delta":
        turn.reply += event.text;
        break;
      case "tts-start":
        this.replyTurn = turn; // the audio that follows is this turn's
        break;
      case "chat-end":
        turn.reply = event.text;
        turn.conversationId = event.conversation_id;
        break;
      case "skill":
        turn.skill = event.name;
        break;
      case "error":
        turn.error = event.message;
        this.setStatus(`The ${event.stage} stage failed: ${event.message}`);
        break;
      case "run-end":
        turn.outcome = event.outcome;
        this.runs.delete(event.run_id);
        if (event.outcome === "no-speech") this.setStatus(`I heard nothing. ${this.idleText()}`);
        else if (event.outcome === "error") this.setStatus(`${turn.error ?? "That failed."} ${this.idleText()}`);
        else this.afterPlayback();
        this.scheduleIdleClose();
        break;
      default:
        break;
    }
    if (turn.shown) this.renderTurn(turn);
  }

  /** Stop the reply playing here; a reply cut short is marked interrupted. */
  cutReply() {
    if (this.replyTurn && (this.speaking || this.player?.playing)) {
      this.replyTurn.interrupted = true;
      this.renderTurn(this.replyTurn);
    }
    this.player?.stop();
  }

  /** The device has sent the whole reply; the page may still be playing it. */
  afterPlayback() {
    clearTimeout(this.playbackTimer);
    if (this.player?.playing) {
      this.setStatus("Speaking… press to interrupt.");
      this.playbackTimer = setTimeout(() => this.afterPlayback(), this.player.remainingSeconds * 1000 + 50);
    } else if (!this.held && ![...this.runs.values()].some((run) => run.shown)) {
      this.setStatus(this.idleText());
    }
  }

  show(turn) {
    if (turn.shown) return;
    turn.shown = true;
    this.turns.unshift(turn);
    this.turns.length = Math.min(this.turns.length, MAX_TURNS);
    this.renderTurns();
  }

  renderTurns() {
    clear(this.turnList);
    if (!this.turns.length) {
      this.turnList.append(h("li", { class: "voice-empty" }, "Nothing said yet."));
      return;
    }
    for (const turn of this.turns) {
      turn.node = h("li", { class: "voice-turn" });
      this.turnList.append(turn.node);
      this.renderTurn(turn);
    }
  }

  renderTurn(turn) {
    const node = turn.node;
    if (!node) return;
    clear(node);
    node.dataset.run = turn.runId;
    if (turn.outcome) node.dataset.outcome = turn.outcome;
    if (turn.interrupted) node.dataset.interrupted = "true";
    const rows = [];
    rows.push(
      h("p", { class: "voice-heard" }, h("strong", {}, "You said: "), turn.heard ?? (turn.outcome ? "(nothing heard)" : "…")),
    );
    const reply = h("p", { class: "voice-reply" }, h("strong", {}, "Assistant: "), turn.reply || (turn.outcome ? "" : "…"));
    if (turn.skill) reply.append(" ", h("span", { class: "voice-skill" }, `Skill: ${turn.skill}`));
    rows.push(reply);
    if (turn.conversationId) {
      rows.push(
        h(
          "p",
          { class: "voice-open" },
          h("a", { href: `#/chat/${encodeURIComponent(turn.conversationId)}` }, "Open in chat"),
        ),
      );
    }
    if (turn.audioSeconds > 0) {
      rows.push(h("p", { class: "voice-audio" }, `Reply audio received: ${turn.audioSeconds.toFixed(1)} s`));
    }
    if (turn.error) rows.push(h("p", { class: "voice-error", role: "alert" }, turn.error));
    const latencies = stageLatencies(turn.events);
    const timing = STAGES.filter(([key]) => latencies[key] != null);
    if (timing.length) {
      rows.push(
        h(
          "table",
          { class: "voice-timings" },
          h("caption", {}, "Timings"),
          h(
            "tbody",
            {},
            ...timing.map(([key, label]) =>
              h(
                "tr",
                { "data-stage": key },
                h("th", { scope: "row" }, label),
                h("td", {}, `${Math.round(latencies[key] * 1000)} ms`),
              ),
            ),
          ),
        ),
      );
    }
    if (turn.interrupted || (turn.outcome && turn.outcome !== "completed")) {
      const outcome = turn.interrupted ? "interrupted" : turn.outcome;
      rows.push(h("p", { class: "voice-outcome" }, outcomeText(outcome)));
    }
    node.append(...rows);
  }

  // Microphone and button ----------------------------------------------------------------

  async ensureAudio() {
    if (!this.context) {
      this.context = audioContext();
      this.player = new ReplyPlayer(this.context);
    }
    if (this.context.state === "suspended") await this.context.resume();
    if (!this.microphone) this.microphone = new Microphone(this.context, (buffer) => this.onFrame(buffer));
    if (!this.microphone.isOpen) {
      try {
        await this.microphone.open();
      } catch (error) {
        this.microphone.close();
        this.setStatus(`The microphone is not available: ${error?.message ?? error}`);
        this.app.toast("Allow the microphone to talk to the assistant", "error");
        throw error;
      }
    }
    this.renderControls();
  }

  pointerDown(event) {
    if (event.button !== 0) return;
    event.preventDefault();
    this.talk.setPointerCapture?.(event.pointerId);
    this.press();
  }

  keyDown(event) {
    if (event.code !== "Space" || this.closed || typing(event.target, this.talk)) return;
    event.preventDefault();
    if (!event.repeat) this.press();
  }

  keyUp(event) {
    if (event.code !== "Space" || this.closed || typing(event.target, this.talk)) return;
    event.preventDefault();
    this.release();
  }

  press() {
    if (this.held || !this.ready) return;
    this.held = true;
    clearTimeout(this.idleTimer);
    clearTimeout(this.playbackTimer);
    this.cutReply(); // barge-in: the device stops the reply too, if it is still going
    this.renderControls();
    this.pressing = (async () => {
      try {
        await this.ensureAudio();
      } catch {
        this.held = false;
        this.renderControls();
        return;
      }
      this.send({ type: "listen" });
      this.setStatus("Listening…");
    })();
  }

  async release() {
    if (!this.held) return;
    this.held = false;
    this.renderControls();
    await this.pressing;
    this.send({ type: "release" });
  }

  async toggleHandsFree() {
    if (this.microphone?.isOpen) {
      this.microphone.close();
      this.setStatus(this.idleText());
    } else {
      try {
        await this.ensureAudio();
      } catch {
        return;
      }
      this.setStatus(this.idleText());
    }
    this.renderControls();
  }

  setMode(mode) {
    if (mode === this.mode) return;
    this.mode = mode;
    clearTimeout(this.idleTimer);
    this.microphone?.close();
    this.player?.stop();
    this.renderControls();
    this.connect();
  }

  scheduleIdleClose() {
    clearTimeout(this.idleTimer);
    if (this.mode !== "push") return;
    const wait = (MIC_IDLE_SECONDS + (this.player?.remainingSeconds ?? 0)) * 1000;
    this.idleTimer = setTimeout(() => {
      if (!this.held && this.mode === "push") {
        this.microphone?.close();
        this.renderControls();
      }
    }, wait);
  }
}

function typing(target, talk) {
  if (!(target instanceof Element) || target === talk) return false;
  return Boolean(target.closest("input, textarea, select, button, a, [contenteditable]"));
}

function outcomeText(outcome) {
  switch (outcome) {
    case "interrupted":
      return "Interrupted.";
    case "no-speech":
      return "No speech was heard.";
    case "cancelled":
      return "Cancelled.";
    case "error":
      return "Failed.";
    default:
      return outcome;
  }
}
