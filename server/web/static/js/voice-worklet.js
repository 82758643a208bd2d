// AudioWorklet processor: microphone samples at the context's rate (44.1 or 48 kHz) in,
// 16 kHz mono 16-bit little-endian PCM frames out (posted to the page as ArrayBuffers).
//
// Resampling is a windowed-sinc low-pass evaluated at each output instant, so speech keeps
// its consonants and nothing above 8 kHz folds back into the band Whisper and the VAD hear.

const TARGET_RATE = 16000;
const HALF_TAPS = 32; // input samples each side of an output instant
const PHASES = 256; // fractional positions the filter is tabulated at
const FRAME_SAMPLES = 640; // 40 ms at 16 kHz

class PcmDownsampler extends AudioWorkletProcessor {
  constructor() {
    super();
    // ``sampleRate`` is the AudioWorkletGlobalScope's: the context's rate.
    this.ratio = sampleRate / TARGET_RATE;
    this.taps = filterTable(Math.min(0.5, 0.5 / this.ratio) * 0.92); // cycles per sample
    this.input = new Float32Array(0);
    this.position = HALF_TAPS; // where in ``input`` the next output sample sits
    this.frame = new Int16Array(FRAME_SAMPLES);
    this.filled = 0;
    this.port.onmessage = (event) => {
      if (event.data === "flush") this.flush();
    };
  }

  process(inputs) {
    const channels = inputs[0];
    if (!channels || channels.length === 0 || !channels[0]) return true;
    this.append(mono(channels));
    const input = this.input;
    while (this.position + HALF_TAPS + 1 < input.length) {
      this.emit(this.sampleAt(input, this.position));
      this.position += this.ratio;
    }
    const consumed = Math.floor(this.position) - HALF_TAPS;
    if (consumed > 0) {
      this.input = input.slice(consumed);
      this.position -= consumed;
    }
    return true;
  }

  append(samples) {
    const joined = new Float32Array(this.input.length + samples.length);
    joined.set(this.input);
    joined.set(samples, this.input.length);
    this.input = joined;
  }

  sampleAt(input, position) {
    if (this.ratio === 1) return input[position];
    let centre = Math.floor(position);
    let phase = Math.round((position - centre) * PHASES);
    if (phase === PHASES) {
      centre += 1;
      phase = 0;
    }
    const taps = this.taps[phase];
    const first = centre - HALF_TAPS + 1;
    let sum = 0;
    for (let k = 0; k < taps.length; k += 1) sum += input[first + k] * taps[k];
    return sum;
  }

  emit(value) {
    const clamped = Math.max(-1, Math.min(1, value));
    this.frame[this.filled] = clamped < 0 ? clamped * 0x8000 : clamped * 0x7fff;
    this.filled += 1;
    if (this.filled === FRAME_SAMPLES) this.flush();
  }

  flush() {
    if (!this.filled) return;
    const frame = this.frame.slice(0, this.filled);
    this.filled = 0;
    this.port.postMessage(frame.buffer, [frame.buffer]);
  }
}

/** Hann-windowed sinc low-pass taps for each fractional phase, each row summing to 1. */
function filterTable(cutoff) {
  const rows = [];
  for (let phase = 0; phase < PHASES; phase += 1) {
    const fraction = phase / PHASES;
    const row = new Float32Array(2 * HALF_TAPS);
    let total = 0;
    for (let k = 0; k < row.length; k += 1) {
      const t = fraction + HALF_TAPS - 1 - k; // distance from the output instant
      const x = 2 * cutoff * t;
      const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
      const window = Math.abs(t) >= HALF_TAPS ? 0 : 0.5 + 0.5 * Math.cos((Math.PI * t) / HALF_TAPS);
      row[k] = sinc * window;
      total += row[k];
    }
    for (let k = 0; k < row.length; k += 1) row[k] /= total;
    rows.push(row);
  }
  return rows;
}

function mono(channels) {
  if (channels.length === 1) return channels[0];
  const out = new Float32Array(channels[0].length);
  for (const channel of channels) {
    for (let i = 0; i < out.length; i += 1) out[i] += channel[i] / channels.length;
  }
  return out;
}

registerProcessor("pcm-downsampler", PcmDownsampler);
