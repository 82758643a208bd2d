// Microphone capture as 16-bit PCM (an AudioWorklet) and playback through Web Audio.
// Playback decodes in the page, so no media URL (data: or blob:) is needed under the CSP.

import { Microphone, audioContext } from './voice-audio.js';

export const CAPTURE_RATE = 16000;

/** Records the microphone at 16 kHz mono (the voice page's resampling worklet);
 * `onChunk(Int16Array)` gets 40 ms at a time, except while `muted`. */
export class PcmRecorder {
  constructor(onChunk) {
    this.onChunk = onChunk;
    this.context = null;
    this.microphone = null;
    this.muted = false;
  }

  get rate() {
    return CAPTURE_RATE;
  }

  async start() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      throw new Error('This browser cannot record audio here (it needs https or localhost).');
    }
    this.context = audioContext();
    this.microphone = new Microphone(this.context, (frame) => {
      if (!this.muted) this.onChunk(new Int16Array(frame));
    });
    await this.microphone.open();
  }

  async stop() {
    this.microphone?.close();
    this.microphone = null;
    if (this.context) await this.context.close();
    this.context = null;
  }
}

/** A WAV file (16-bit mono) of the recorded chunks. */
export function wavBlob(chunks, rate) {
  const samples = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
  const buffer = new ArrayBuffer(44 + samples * 2);
  const view = new DataView(buffer);
  const text = (offset, value) => {
    for (let i = 0; i < value.length; i += 1) view.setUint8(offset + i, value.charCodeAt(i));
  };
  text(0, 'RIFF');
  view.setUint32(4, 36 + samples * 2, true);
  text(8, 'WAVE');
  text(12, 'fmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true);
  view.setUint16(22, 1, true);
  view.setUint32(24, rate, true);
  view.setUint32(28, rate * 2, true);
  view.setUint16(32, 2, true);
  view.setUint16(34, 16, true);
  text(36, 'data');
  view.setUint32(40, samples * 2, true);
  const out = new Int16Array(buffer, 44);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return new Blob([buffer], { type: 'audio/wav' });
}

/** Plays PCM pieces and encoded files back to back; `playing` says whether sound is due. */
export class AudioPlayer {
  constructor() {
    this.context = null;
    this.until = 0;
    this.sources = new Set();
  }

  ensure() {
    if (!this.context) this.context = new AudioContext();
    if (this.context.state === 'suspended') this.context.resume();
    return this.context;
  }

  get playing() {
    return Boolean(this.context) && this.context.currentTime < this.until;
  }

  schedule(audioBuffer) {
    const context = this.ensure();
    const source = context.createBufferSource();
    source.buffer = audioBuffer;
    source.connect(context.destination);
    const start = Math.max(context.currentTime + 0.02, this.until);
    source.start(start);
    this.until = start + audioBuffer.duration;
    this.sources.add(source);
    source.onended = () => this.sources.delete(source);
    return this.until;
  }

  /** 16-bit little-endian mono PCM at `rate`. */
  playPcm(arrayBuffer, rate) {
    const pcm = new Int16Array(arrayBuffer);
    if (pcm.length === 0) return this.until;
    const context = this.ensure();
    const audioBuffer = context.createBuffer(1, pcm.length, rate);
    const channel = audioBuffer.getChannelData(0);
    for (let i = 0; i < pcm.length; i += 1) channel[i] = pcm[i] / 0x8000;
    return this.schedule(audioBuffer);
  }

  /** A whole encoded file (WAV, Ogg, MP3); resolves with its duration in seconds. */
  async playEncoded(arrayBuffer) {
    const context = this.ensure();
    const audioBuffer = await context.decodeAudioData(arrayBuffer);
    this.schedule(audioBuffer);
    return audioBuffer.duration;
  }

  stop() {
    for (const source of this.sources) {
      try {
        source.stop();
      } catch (error) {
        // already ended
      }
    }
    this.sources.clear();
    this.until = 0;
  }

  async close() {
    this.stop();
    if (this.context) await this.context.close();
    this.context = null;
  }
}

/** Bytes of a base64 string. */
export function fromBase64(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes.buffer;
}
