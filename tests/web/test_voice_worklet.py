"""The voice page's AudioWorklet (js/voice-worklet.js) in Chromium's Web Audio: 48 kHz in,
16 kHz 16-bit PCM out, speech frequencies kept, nothing above 8 kHz folded back in."""

from __future__ import annotations

import math

import pytest
from playwright.sync_api import Page

from tests.web.conftest import NewPage, WebApp

RENDER = """
async ([worklet, frequency, rate]) => {
  const context = new OfflineAudioContext(1, rate, rate);  // one second
  await context.audioWorklet.addModule(worklet);
  const oscillator = context.createOscillator();
  oscillator.frequency.value = frequency;
  const gain = context.createGain();
  gain.gain.value = 0.5;
  const node = new AudioWorkletNode(context, "pcm-downsampler", {
    numberOfInputs: 1, numberOfOutputs: 1, channelCount: 1, channelCountMode: "explicit",
  });
  const frames = [];
  node.port.onmessage = (event) => frames.push(...new Int16Array(event.data));
  oscillator.connect(gain).connect(node).connect(context.destination);
  oscillator.start();
  await context.startRendering();
  // Frames posted during rendering arrive as tasks after it; wait for the whole ones.
  for (let i = 0; i < 100 && frames.length < 15360; i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return frames;
}
"""


def worklet_url(page: Page) -> str:
    """The worklet's URL in the served bundle (next to app.js)."""
    return str(
        page.evaluate(
            "new URL('./voice-worklet.js', document.querySelector('script[type=module]').src).href"
        )
    )


def amplitude_at(samples: list[int], frequency: float, rate: int = 16_000) -> float:
    """Amplitude of one frequency in the samples (a single DFT bin), full scale = 1."""
    real = sum(s * math.cos(2 * math.pi * frequency * n / rate) for n, s in enumerate(samples))
    imag = sum(s * math.sin(2 * math.pi * frequency * n / rate) for n, s in enumerate(samples))
    return 2 * math.hypot(real, imag) / len(samples) / 32768


@pytest.mark.parametrize("rate", [48_000, 44_100])
def test_speech_band_passes_at_16_khz_and_high_frequencies_do_not_alias(
    web_app: WebApp, new_page: NewPage, rate: int
) -> None:
    page = new_page()
    page.goto(web_app.url + "/")
    url = worklet_url(page)
    tone = page.evaluate(RENDER, [url, 1000, rate])
    # One second in: 16,000 samples at 16 kHz (whole 40 ms frames; the filter's delay
    # keeps back the last few samples).
    assert 15_360 <= len(tone) <= 16_000, len(tone)
    steady = tone[800:15_200]
    assert amplitude_at(steady, 1000) == pytest.approx(0.5, abs=0.03)
    # 12 kHz is above what 16 kHz can hold: without the low-pass it would come back as
    # 4 kHz at full strength.
    high = page.evaluate(RENDER, [url, 12_000, rate])[800:15_200]
    assert amplitude_at(high, 4000) < 0.01
    assert max(abs(s) for s in high) < 0.05 * 32768
