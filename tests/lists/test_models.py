"""The pure rules: canonical list names, item keys, which item a user means, and how
items said in one breath are split."""

from __future__ import annotations

import pytest

from assistant.lists import Item
from assistant.lists.models import find_item, item_key, list_name
from assistant.skills.lists import join_words, split_items


@pytest.mark.parametrize(
    ("said", "name"),
    [
        ("shopping", "shopping"),
        ("Shopping List", "shopping"),
        ("my shopping list", "shopping"),
        ("the  grocery   list", "shopping"),
        ("groceries", "shopping"),
        ("To Do", "to-do"),
        ("todo", "to-do"),
        ("to-do list", "to-do"),
        ("to dos", "to-do"),
        ("Notes", "notes"),
        ("note", "notes"),
        ("Reading", "reading"),
        ("christmas presents", "christmas presents"),
        ("x" * 60, "x" * 60),
    ],
)
def test_list_names_are_canonical(said: str, name: str) -> None:
    assert list_name(said) == name


@pytest.mark.parametrize("said", ["", "   ", "list", "the list", "x" * 61, "a/b", "tab\there"])
def test_names_that_cannot_be_lists_are_refused(said: str) -> None:
    with pytest.raises(ValueError):
        list_name(said)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("milk", "Milk"),
        ("milk", "the milk"),
        ("eggs", "egg"),
        ("some eggs", "Eggs."),
        ("cherries", "cherry"),
        ("call the plumber", "Call the plumber"),
        ("an apple", "apples"),
    ],
)
def test_the_same_item_has_the_same_key(first: str, second: str) -> None:
    assert item_key(first) == item_key(second)


@pytest.mark.parametrize(
    ("first", "second"),
    [("milk", "oat milk"), ("glass", "glas"), ("bread", "breadcrumbs"), ("tea", "the tea bags")],
)
def test_different_items_have_different_keys(first: str, second: str) -> None:
    assert item_key(first) != item_key(second)


def _items(*texts: str) -> list[Item]:
    return [Item(id=str(n), text=t, done=False, created_at=0) for n, t in enumerate(texts)]


@pytest.mark.parametrize(
    ("items", "said", "found"),
    [
        (("Milk", "Eggs"), "the milk", "Milk"),
        (("Milk", "Eggs"), "egg", "Eggs"),
        (("oat milk", "eggs"), "milk", "oat milk"),
        (("oat milk", "soy milk"), "milk", None),  # two items hold milk: not a guess
        (("oat milk", "milk"), "milk", "milk"),  # the exact one wins
        (("tomatoes",), "tomatos", "tomatoes"),
        (("bread",), "butter", None),
        (("call the plumber",), "the plumber", "call the plumber"),
        ((), "milk", None),
        (("milk",), "the", None),
    ],
)
def test_the_item_a_user_means(items: tuple[str, ...], said: str, found: str | None) -> None:
    match = find_item(_items(*items), said)
    assert (match.text if match else None) == found


@pytest.mark.parametrize(
    ("said", "items"),
    [
        ("milk", ["milk"]),
        ("eggs and bread", ["eggs", "bread"]),
        ("eggs, bread and milk", ["eggs", "bread", "milk"]),
        ("eggs, bread, and milk", ["eggs", "bread", "milk"]),
        ("call the plumber", ["call the plumber"]),
        ("fish and chips and ketchup", ["fish and chips", "ketchup"]),
        ("bread and butter", ["bread and butter"]),
        ("milk and milk", ["milk"]),
        ("apples & pears plus lemons", ["apples", "pears", "lemons"]),
        ("", []),
    ],
)
def test_items_said_in_one_breath_are_split(said: str, items: list[str]) -> None:
    assert split_items(said) == items


@pytest.mark.parametrize(
    ("words", "joined"),
    [
        ([], ""),
        (["milk"], "milk"),
        (["milk", "eggs"], "milk and eggs"),
        (["milk", "eggs", "bread"], "milk, eggs and bread"),
    ],
)
def test_words_are_joined_as_spoken(words: list[str], joined: str) -> None:
    assert join_words(words) == joined
