"""Quality estimates of a translation: calibrated model confidence, and round-trip chrF.

Pure: no I/O, no clock.

- ``score``: the engine's mean log-probability per generated token ``m`` (natural log)
  mapped to 0..1 as ``exp(m)``, the geometric mean of the token probabilities. A model
  sure of every token scores near 1; 0.5 means it gave its tokens even odds on average.
  Engines' scores are comparable only with themselves: NLLB's and the chat model's
  numbers are on different scales of trust.
- ``roundtrip``: the translation is translated back and compared with the source by chrF
  (character n-gram F-score, n = 1..6, beta = 2, as sacrebleu's ``CHRF`` with its
  defaults), divided by 100 to fit 0..1.
"""

from __future__ import annotations

import math
from collections import Counter

CHRF_ORDER = 6
"""Longest character n-gram."""
CHRF_BETA = 2.0
"""Recall weighs beta times as much as precision."""


def calibrated(mean_logprob: float) -> float:
    """A mean token log-probability as a 0..1 confidence (the geometric mean probability)."""
    if math.isnan(mean_logprob):
        return 0.0
    return min(1.0, max(0.0, math.exp(min(mean_logprob, 0.0))))


def _ngrams(text: str, n: int) -> Counter[str]:
    squeezed = "".join(text.split())  # chrF ignores whitespace
    return Counter(squeezed[i : i + n] for i in range(len(squeezed) - n + 1))


def chrf(hypothesis: str, reference: str) -> float:
    """chrF in 0..1 of ``hypothesis`` against ``reference`` (1.0 for identical texts):
    precision and recall averaged over the n-gram orders both texts have, then their
    F-score (sacrebleu's default, without epsilon smoothing)."""
    precisions: list[float] = []
    recalls: list[float] = []
    for n in range(1, CHRF_ORDER + 1):
        hyp, ref = _ngrams(hypothesis, n), _ngrams(reference, n)
        if not hyp or not ref:
            continue
        common = sum((hyp & ref).values())
        precisions.append(common / sum(hyp.values()))
        recalls.append(common / sum(ref.values()))
    if not precisions:
        return 0.0
    precision = sum(precisions) / len(precisions)
    recall = sum(recalls) / len(recalls)
    if precision + recall == 0:
        return 0.0
    beta2 = CHRF_BETA**2
    return (1 + beta2) * precision * recall / (beta2 * precision + recall)
