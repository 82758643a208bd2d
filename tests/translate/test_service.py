"""The translation service over the tiny CTranslate2 model: batching, cache, glossary
placeholders, context prefixes, errors, history."""

from __future__ import annotations

import pytest

from assistant.errors import InvalidInput, NotFound, PayloadTooLarge
from assistant.services import Services, build_translate
from assistant.translate.models import Glossary, TranslateRequest
from runtime.errors import ModelNotInstalled
from runtime.events import RecordingEmitter
from tests.translate.conftest import TINY_MODEL, Recorded


def user(services: Services, name: str = "ada") -> str:
    return services.auth.create_user(name, "correct horse battery").id


async def test_sentences_go_to_the_engine_in_one_batch_and_layout_survives(
    recorded: Recorded,
) -> None:
    text = "The cat sat on the mat. A small dog runs in the park!\n\nWe read books at night."
    [result] = await recorded.service.translate(
        user(recorded.services), TranslateRequest(texts=(text,), source="en", target="fr")
    )
    [call] = recorded.calls
    assert call.texts == [
        "The cat sat on the mat.",
        "A small dog runs in the park!",
        "We read books at night.",
    ]
    assert (call.source, call.target) == ("en", "fr")
    assert result.sentences == 3
    assert result.translated.count("\n\n") == 1
    assert (result.engine, result.model) == ("ctranslate2", TINY_MODEL)


async def test_a_cache_hit_skips_the_engine(recorded: Recorded) -> None:
    ada = user(recorded.services)
    request = TranslateRequest(texts=("the cat sat on the mat",), source="en", target="de")
    [first] = await recorded.service.translate(ada, request)
    [second] = await recorded.service.translate(ada, request)
    assert len(recorded.calls) == 1
    assert (first.cached, second.cached) == (False, True)
    assert second.translated == first.translated
    stats = recorded.service.cache_stats()
    assert (stats.entries, stats.hits, stats.misses) == (1, 1, 1)
    # Another target, model option or glossary is another entry.
    await recorded.service.translate(
        ada, TranslateRequest(texts=("the cat sat on the mat",), source="en", target="es")
    )
    assert len(recorded.calls) == 2
    assert recorded.service.clear_cache() == 2
    await recorded.service.translate(ada, request)
    assert len(recorded.calls) == 3


async def test_the_cache_keeps_under_its_size_cap_dropping_the_least_recently_used(
    recorded: Recorded,
) -> None:
    service = recorded.service
    ada = user(recorded.services)
    service.limits = type(service.limits)(cache_max_bytes=700)
    for word in ("cat", "dog", "mat", "park", "tea", "door"):
        await service.translate(
            ada, TranslateRequest(texts=(f"the {word}",), source="en", target="fr")
        )
    stats = service.cache_stats()
    assert 0 < stats.bytes <= 700
    assert stats.entries < 6
    calls = len(recorded.calls)
    await service.translate(ada, TranslateRequest(texts=("the door",), source="en", target="fr"))
    assert len(recorded.calls) == calls  # the newest entry is still there


async def test_glossary_terms_travel_as_placeholders_and_are_reported(
    recorded: Recorded,
) -> None:
    [result] = await recorded.service.translate(
        user(recorded.services),
        TranslateRequest(
            texts=("my friend likes green tea in Paris",),
            source="en",
            target="fr",
            glossary=Glossary({"green tea": "thé vert"}, ("Paris",)),
        ),
    )
    [call] = recorded.calls
    assert call.texts == ["my friend likes ⟦0⟧ in ⟦1⟧"]
    assert "thé vert" in result.translated and "Paris" in result.translated
    checks = {c.term: c for c in result.terms}
    assert checks["green tea"].found and checks["Paris"].found
    # The tiny model drops the markers: the terms are appended, not honoured in place.
    assert not checks["green tea"].honoured


async def test_the_stored_glossary_applies_by_default_and_the_request_wins(
    recorded: Recorded,
) -> None:
    service = recorded.service
    ada = user(recorded.services)
    service.set_glossary(ada, Glossary({"cat": "chat", "dog": "chien"}), targets=["fr"])
    [result] = await service.translate(
        ada,
        TranslateRequest(
            texts=("the cat and the dog",),
            source="en",
            target="fr",
            glossary=Glossary({"dog": "toutou"}),
        ),
    )
    assert "chat" in result.translated and "toutou" in result.translated
    [german] = await service.translate(
        ada, TranslateRequest(texts=("the cat",), source="en", target="de")
    )
    assert german.terms == ()  # stored for French only
    [plain] = await service.translate(
        ada,
        TranslateRequest(texts=("the cat",), source="en", target="fr", use_stored_glossary=False),
    )
    assert plain.terms == ()


async def test_context_goes_before_the_sentence_and_its_translation_is_cut(
    recorded: Recorded,
) -> None:
    service = recorded.service
    ada = user(recorded.services)
    text = "the weather is cold today"
    [alone] = await service.translate(
        ada, TranslateRequest(texts=(text,), source="en", target="fr")
    )
    [with_context] = await service.translate(
        ada,
        TranslateRequest(
            texts=(text,), source="en", target="fr", context="my friend likes green tea."
        ),
    )
    context_call, sentence_call = recorded.calls[1:]
    assert context_call.texts == ["my friend likes green tea."]
    assert sentence_call.options.source_context == "my friend likes green tea."
    assert sentence_call.options.target_context  # the context's translation, forced first
    assert with_context.translated != alone.translated


async def test_same_source_and_target_returns_the_text_without_an_engine(
    recorded: Recorded,
) -> None:
    [result] = await recorded.service.translate(
        user(recorded.services), TranslateRequest(texts=("the cat",), source="en", target="en")
    )
    assert (result.translated, result.engine) == ("the cat", "none")
    assert recorded.calls == []


async def test_auto_detection_picks_a_language_the_engine_translates(
    recorded: Recorded,
) -> None:
    [result] = await recorded.service.translate(
        user(recorded.services),
        TranslateRequest(
            texts=("Le chat est sur le tapis et il fait froid aujourd'hui.",), target="en"
        ),
    )
    assert result.source == "fr"
    assert result.detected is not None and result.detected.confidence > 0.5


@pytest.mark.parametrize(
    ("request_", "error", "field"),
    [
        (TranslateRequest(texts=(), target="fr"), InvalidInput, "texts"),
        (TranslateRequest(texts=("  ",), target="fr"), InvalidInput, "text"),
        (TranslateRequest(texts=("a", ""), target="fr"), InvalidInput, "texts[1]"),
        (TranslateRequest(texts=("x" * 20_001,), target="fr"), PayloadTooLarge, "text"),
        (TranslateRequest(texts=("x",) * 129, target="fr"), PayloadTooLarge, "texts"),
        (TranslateRequest(texts=("the cat",), target="xx"), InvalidInput, "target"),
        (
            TranslateRequest(texts=("the cat",), source="klingon", target="fr"),
            InvalidInput,
            "source",
        ),
        (
            TranslateRequest(texts=("the cat",), target="fr", glossary=Glossary({"cat": " "})),
            InvalidInput,
            "glossary",
        ),
        (
            TranslateRequest(texts=("the cat",), target="fr", glossary=Glossary({"⟦0⟧": "x"})),
            InvalidInput,
            "glossary",
        ),
    ],
)
async def test_bad_requests_name_the_field(
    recorded: Recorded, request_: TranslateRequest, error: type[Exception], field: str
) -> None:
    with pytest.raises(error) as raised:
        await recorded.service.translate(user(recorded.services), request_)
    assert getattr(raised.value, "field", None) == field
    assert recorded.calls == []


async def test_an_unsupported_pair_names_the_targets_of_the_source(recorded: Recorded) -> None:
    with pytest.raises(InvalidInput) as raised:
        await recorded.service.translate(
            user(recorded.services), TranslateRequest(texts=("the cat",), source="en", target="ja")
        )
    assert raised.value.field == "target"
    assert raised.value.fields["supported_targets"] == ["de", "es", "fr"]
    assert "en to ja" in raised.value.detail


async def test_a_model_that_is_not_installed_names_the_pull_command(recorded: Recorded) -> None:
    with pytest.raises(ModelNotInstalled) as raised:
        await recorded.service.translate(
            user(recorded.services),
            TranslateRequest(texts=("the cat",), source="en", target="fr", model="nllb:600m-int8"),
        )
    assert raised.value.model_id == "nllb:600m-int8"


async def test_history_is_per_user_newest_first_with_a_cursor(recorded: Recorded) -> None:
    service = recorded.service
    ada, bob = user(recorded.services, "ada"), user(recorded.services, "bob")
    for word in ("cat", "dog", "mat"):
        await service.translate(
            ada, TranslateRequest(texts=(f"the {word}",), source="en", target="fr")
        )
    await service.translate(bob, TranslateRequest(texts=("the tea",), source="en", target="fr"))
    first = service.history(ada, limit=2)
    assert [e.text for e in first] == ["the mat", "the dog"]
    older = service.history(ada, before=first[-1].id, limit=2)
    assert [e.text for e in older] == ["the cat"]
    assert [e.text for e in service.history(bob)] == ["the tea"]
    with pytest.raises(NotFound):
        service.delete_history(bob, first[0].id)  # not bob's
    assert service.delete_history(ada, first[0].id) == 1
    assert service.delete_history(ada) == 2
    assert service.history(ada) == []
    assert len(service.history(bob)) == 1


async def test_translations_count_in_the_usage_statistics(recorded: Recorded) -> None:
    ada = user(recorded.services)
    await recorded.service.translate(
        ada, TranslateRequest(texts=("the cat", "the dog"), source="en", target="fr")
    )
    totals = recorded.services.profile.stats(ada).totals
    assert totals["translations"] == 2
    assert totals["translated_characters"] == len("the cat") + len("the dog")


async def test_every_translation_is_an_analytics_event(with_tiny: Services) -> None:
    events = RecordingEmitter()
    service = build_translate(
        with_tiny.settings,
        with_tiny.db,
        with_tiny.manager,
        with_tiny.models,
        with_tiny.profile,
        with_tiny.history,
        with_tiny.voice,
        events=events,
    )
    ada = user(with_tiny)
    request = TranslateRequest(texts=("the cat sat", "a dog ran"), source="en", target="de")
    await service.translate(ada, request)
    await service.translate(ada, request)
    sent = events.named("translate.text")
    assert [(e["model"], e["source"], e["language"]) for e in sent] == [
        (TINY_MODEL, "en", "de")
    ] * 4
    assert [e["cached"] for e in sent] == [False, False, True, True]
    assert [e["characters"] for e in sent] == [11, 9, 11, 9]
    assert all(e["kind"] == "text" for e in sent)
    assert {who for _, _, who in events.events} == {ada}
