"""``assistant talk``'s terminal output."""

from __future__ import annotations

import io

from rich.console import Console

from assistant.cli.talk import TurnReporter
from assistant.voice.events import RunEnd, RunOutcome, TtsStart


def test_assistant_talk_prints_the_sentences_of_a_reply_apart() -> None:
    """``assistant talk`` shows the spoken sentences as one reply, a space between them."""
    out = io.StringIO()
    reporter = TurnReporter(Console(file=out, width=200))
    for index, text in enumerate(["I don't know the time zone of Atlantis.", "Which city?"]):
        reporter(TtsStart(run_id="r", timestamp=float(index), sentence=index, text=text))
    reporter(RunEnd(run_id="r", timestamp=3.0, outcome=RunOutcome.COMPLETED))
    assert "assistant: I don't know the time zone of Atlantis. Which city?" in out.getvalue()
