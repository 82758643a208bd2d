// Audio for the voice page: the microphone as 16 kHz PCM frames (through the
// voice-worklet.js AudioWorklet), the spoken reply played as it streams (Web Audio), and
// per-stage latencies from the pipeline's timed events.

const WORKLET_URL = new URL("./voice-worklet.js", import.meta.url);

/** One AudioContext for the page: made on a user gesture so it may play. */
export function audioContext() {
  const Context = window.AudioContext || window.webkitAudioContext;
  return new Context({ latencyHint: "interactive" });
}

/** The microphone, downsampled to 16 kHz 16-bit mono; ``onFrame(ArrayBuffer)`` per 40 ms. */
export class Microphone {
  constructor(context, onFrame) {
    this.context = context;
    this.onFrame = onFrame;
    this.stream = null;
    this.source = null;
    this.node = null;
    this.sink = null;
  }

  async open() {
    if (this.stream) return;
    await this.context.audioWorklet.addModule(WORKLET_URL);
    this.stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true },
      video: false,
    });
    this.source = this.context.createMediaStreamSource(this.stream);
    this.node = new AudioWorkletNode(this.context, "pcm-downsampler", {
      numberOfInputs: 1,
      numberOfOutputs: 1,
      channelCount: 1,
      channelCountMode: "explicit",
    });
    this.node.port.onmessage = (event) => this.onFrame(event.data);
    // A silent path to the destination keeps the graph (and the worklet) running.
    this.sink = this.context.createGain();
    this.sink.gain.value = 0;
    this.source.connect(this.node).connect(this.sink).connect(this.context.destination);
    if (this.context.state === "suspended") await this.context.resume();
  }

  get isOpen() {
    return Boolean(this.stream);
  }

  close() {
    this.node?.port.postMessage("flush");
    this.source?.disconnect();
    this.node?.disconnect();
    this.sink?.disconnect();
    for (const track of this.stream?.getTracks() ?? []) track.stop();
    this.stream = this.source = this.node = this.sink = null;
  }
}

/** Plays a reply's PCM as it arrives: each frame is scheduled right after the last. */
export class ReplyPlayer {
  constructor(context) {
    this.context = context;
    this.format = null;
    this.sources = new Set();
    this.next = 0;
    this.receivedSeconds = 0;
    this.receivedBytes = 0;
  }

  begin(format) {
    this.stop();
    this.format = format;
    this.receivedSeconds = 0;
    this.receivedBytes = 0;
  }

  push(buffer) {
    const format = this.format;
    if (!format || format.width !== 2) return;
    const samples = new Int16Array(buffer, 0, Math.floor(buffer.byteLength / 2));
    const channels = format.channels || 1;
    const frames = Math.floor(samples.length / channels);
    if (!frames) return;
    this.receivedBytes += buffer.byteLength;
    this.receivedSeconds += frames / format.rate;
    const audio = this.context.createBuffer(channels, frames, format.rate);
    for (let c = 0; c < channels; c += 1) {
      const data = audio.getChannelData(c);
      for (let i = 0; i < frames; i += 1) data[i] = samples[i * channels + c] / 0x8000;
    }
    const source = this.context.createBufferSource();
    source.buffer = audio;
    source.connect(this.context.destination);
    const at = Math.max(this.context.currentTime + 0.03, this.next);
    source.start(at);
    this.next = at + audio.duration;
    this.sources.add(source);
    source.onended = () => this.sources.delete(source);
  }

  /** Whether some of the reply is still to be heard. */
  get playing() {
    return this.sources.size > 0 && this.remainingSeconds > 0;
  }

  /** Seconds of the reply still to play. */
  get remainingSeconds() {
    return Math.max(0, this.next - this.context.currentTime);
  }

  stop() {
    for (const source of this.sources) {
      try {
        source.stop();
      } catch {
        // already ended
      }
    }
    this.sources.clear();
    this.next = 0;
  }
}

/** Per-stage latencies of one run from its events (each ``{type, timestamp, ...}``), in
 * seconds; the same definitions as assistant/voice/events.py ``stage_latencies``. */
export function stageLatencies(events) {
  const first = new Map();
  for (const event of events) {
    if (!first.has(event.type)) first.set(event.type, event);
  }
  const at = (type) => first.get(type)?.timestamp ?? null;
  const span = (start, end) => (start == null || end == null ? null : end - start);
  const vadEnd = first.get("stt-vad-end");
  const listened = at("stt-vad-end") ?? at("stt-start");
  const triggered = at("wake-word-end") ?? at("stt-start");
  const chatStart = at("chat-start");
  const firstSentence = at("tts-start");
  const firstAudio = at("tts-audio");
  return {
    vad_tail_seconds: vadEnd ? vadEnd.offset_seconds - vadEnd.speech_end_seconds : null,
    stt_seconds: span(listened, at("stt-end")),
    chat_first_delta_seconds: span(chatStart, at("chat-delta")),
    chat_first_sentence_seconds: span(chatStart, firstSentence),
    tts_first_chunk_seconds: span(firstSentence, firstAudio),
    speech_end_to_first_audio_seconds: span(listened, firstAudio),
    total_seconds: span(triggered, at("run-end")),
  };
}

/** What each latency is called on the page, in display order. */
export const STAGES = [
  ["vad_tail_seconds", "End of speech detected after"],
  ["stt_seconds", "Speech to text"],
  ["chat_first_delta_seconds", "Chat: first words"],
  ["chat_first_sentence_seconds", "Chat: first sentence"],
  ["tts_first_chunk_seconds", "Speech synthesis: first audio"],
  ["speech_end_to_first_audio_seconds", "You stopped → assistant speaks"],
  ["total_seconds", "Whole turn"],
];
