"""The list and note skills: "add milk to the shopping list", "note that the code is 1234".

Both keep their data in the list service (``assistant.lists``); notes are the items of
the user's ``notes`` list, so companion apps see them under ``/api/v1/lists/notes``.
``match`` types the slots (the list's canonical name, the items said in one breath split
apart) and declines phrasing that only looks like a list request ("take me off the
mailing list", "what's on your bucket list"); ``run`` answers an empty or unknown list in
words, not with an error.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence

from assistant.errors import NotFound
from assistant.lists import Item, ListService
from assistant.lists.models import MAX_ITEM_CHARS, NOTES, item_key, list_name
from assistant.skills.base import SkillAnswer, SkillCall, SkillContext, SlotProblem

SPOKEN_ITEMS = 12
"""Most items read aloud; the rest are counted ("and 4 more")."""

_NOT_LISTS = {"the", "a", "an", "my", "our", "this", "that", "that list", "this list"}
"""What a list-name slot holds when no name was said ("add milk to the list")."""
_SOMEONE_ELSES = ("your ", "his ", "her ", "their ", "a ", "an ", "someone's ", "the world's ")
"""A list that is not the user's ("what's on your bucket list"): chat."""
_NOT_ITEMS = {"me", "us", "him", "her", "them", "it", "this", "that", "these", "those", "myself"}
"""Items that are not things to keep ("take me off the mailing list"): chat."""
_EVERYTHING = {"everything", "all", "all items", "all the items", "every item", "it all"}
"""Removing these is clearing the list."""
_PAIRS = (
    "bread and butter",
    "fish and chips",
    "salt and pepper",
    "mac and cheese",
    "macaroni and cheese",
    "peanut butter and jelly",
    "rock and roll",
    "oil and vinegar",
    "sweet and sour",
    "cheese and onion",
    "salt and vinegar",
    "strawberries and cream",
    "pen and paper",
)
"""Things named with "and" that are one item."""
_SPLIT = re.compile(r"\s*,\s*(?:and\s+)?|\s+and\s+|\s+&\s+|\s+plus\s+")
_REQUEST = re.compile(
    r"\b(can you|could you|would you|will you|please|suggest|recommend|explain|tell me"
    r"|help me|write me|give me|what|how|why|which)\b"
)
"""A "note that ..." that goes on to ask for something is a chat request with context."""


def split_items(text: str) -> list[str]:
    """The items said in one breath: "eggs, bread and milk" -> three; "call the plumber"
    -> one; known pairs ("fish and chips") stay one item."""
    kept: dict[str, str] = {}
    protected = text
    for number, pair in enumerate(_PAIRS):
        protected = re.sub(rf"\b{pair}\b", f"\x00{number}\x00", protected, flags=re.I)
    parts = []
    for part in _SPLIT.split(protected):
        restored = re.sub(r"\x00(\d+)\x00", lambda m: _PAIRS[int(m[1])], part)
        cleaned = " ".join(restored.split()).strip(" .,;")
        cleaned = re.sub(r"^(?:and|also)\s+", "", cleaned, flags=re.I)
        if cleaned and item_key(cleaned) not in kept:
            kept[item_key(cleaned)] = cleaned
            parts.append(cleaned)
    return parts


def join_words(words: Sequence[str], conjunction: str = "and") -> str:
    """``milk, eggs and bread``."""
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} {conjunction} {words[-1]}"


def counted(number: int, singular: str, plural: str | None = None) -> str:
    """``one thing``, ``3 things``."""
    if number == 1:
        return f"one {singular}"
    return f"{number} {plural or singular + 's'}"


def called(name: str) -> str:
    """How an answer names a user's list: ``your shopping list``, ``your notes``."""
    return "your notes" if name == NOTES else f"your {name} list"


def _data(name: str, items: Sequence[Item]) -> dict[str, object]:
    return {
        "list": name,
        "items": [{"id": i.id, "text": i.text, "done": i.done} for i in items],
    }


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def _item_texts(raw: str, slot: str) -> list[str]:
    items = split_items(raw)
    if not items:
        raise SlotProblem("What should I put on the list?", slot=slot)
    for item in items:
        if len(item) > MAX_ITEM_CHARS:
            raise SlotProblem(
                f"That is too long for one item: keep it under {MAX_ITEM_CHARS} characters.",
                "That is too long for one item. Could you say it more briefly?",
                slot=slot,
            )
    return items


def _users_list(raw_name: str) -> str | None:
    """The canonical name of the user's list a slot names; None for someone else's;
    SlotProblem when no list or no usable name was said."""
    if raw_name.startswith(_SOMEONE_ELSES):
        return None
    if raw_name in _NOT_LISTS or not raw_name:
        raise SlotProblem(
            "Which list do you mean? For example: the shopping list.", slot="list_name"
        )
    try:
        return list_name(raw_name)
    except ValueError as exc:
        raise SlotProblem(f"{exc}. Which list do you mean?", slot="list_name") from exc


class ListSkill:
    """Named lists by voice or chat: add, take off, read out, clear."""

    name = "list"
    summary = (
        "Keeps the user's named lists (shopping, to-do, any name): adds and removes items,"
        " reads a list out, clears it, tells which lists there are."
    )

    def __init__(self, lists: ListService) -> None:
        self.lists = lists

    def match(
        self, intent: str, slots: Mapping[str, str], context: SkillContext
    ) -> SkillCall | None:
        """Type the list's name and the items; decline someone else's list or a person
        taken off a mailing list."""
        action = intent.removeprefix(f"{self.name}.")
        raw_name = " ".join(slots.get("list_name", "").lower().split())
        if action == "show" and not raw_name:
            return SkillCall(self.name, intent, {"list": None})
        if action not in ("add", "remove", "show", "clear"):
            return None
        name = _users_list(raw_name)
        if name is None or action in ("show", "clear"):
            return None if name is None else SkillCall(self.name, intent, {"list": name})
        items = _item_texts(slots.get("list_items", ""), "list_items")
        if action == "remove" and " ".join(items).lower() in _EVERYTHING:
            return SkillCall(self.name, f"{self.name}.clear", {"list": name})
        if any(item.lower() in _NOT_ITEMS for item in items):
            return None
        return SkillCall(self.name, intent, {"list": name, "items": items})

    async def run(self, call: SkillCall, context: SkillContext) -> SkillAnswer:
        """Change or read the list and say what was done."""
        action = call.intent.removeprefix(f"{self.name}.")
        name = call.arguments.get("list")
        if name is None:
            return await self._overview(context.user_id)
        name = str(name)
        if action == "add":
            return await self._add(context.user_id, name, call.arguments["items"])
        if action == "remove":
            return await self._remove(context.user_id, name, call.arguments["items"])
        if action == "clear":
            return await self._clear(context.user_id, name)
        return await read_out(self.lists, context.user_id, name)

    async def _add(self, user_id: str, name: str, texts: Sequence[str]) -> SkillAnswer:
        outcome = await asyncio.to_thread(self.lists.add_items, user_id, name, texts)
        where = called(outcome.name)
        added = [i.text for i in outcome.added]
        present = [i.text for i in outcome.present]
        sentences = []
        if added:
            sentences.append(f"Added {join_words(added)} to {where}.")
        if present:
            verb = "is" if len(present) == 1 else "are"
            there = "already there" if added else f"already on {where}"
            sentences.append(f"{_capitalised(join_words(present))} {verb} {there}.")
        text = " ".join(sentences)
        listed = (await asyncio.to_thread(self.lists.get, user_id, outcome.name)).items
        return SkillAnswer(text, text, data=_data(outcome.name, listed))

    async def _remove(self, user_id: str, name: str, texts: Sequence[str]) -> SkillAnswer:
        removed: list[str] = []
        missing: list[str] = []
        for text in texts:
            try:
                item = await asyncio.to_thread(self.lists.remove, user_id, name, text)
            except NotFound as exc:
                if exc.fields.get("field") == "name":
                    said = f"You don't have a {name} list."
                    return SkillAnswer(said, said, data={"list": name, "items": []})
                missing.append(text)
            else:
                removed.append(item.text)
        where = called(name)
        sentences = []
        if removed:
            sentences.append(f"Removed {join_words(removed)} from {where}.")
        if missing:
            sentences.append(f"I couldn't find {join_words(missing, 'or')} on {where}.")
        text = " ".join(sentences)
        left = (await asyncio.to_thread(self.lists.get, user_id, name)).items
        return SkillAnswer(text, text, data=_data(name, left))

    async def _clear(self, user_id: str, name: str) -> SkillAnswer:
        try:
            removed = await asyncio.to_thread(self.lists.clear, user_id, name)
        except NotFound:
            said = f"You don't have a {name} list."
            return SkillAnswer(said, said, data={"list": name, "items": []})
        if removed == 0:
            said = f"{_capitalised(called(name))} is already empty."
        else:
            said = f"Cleared {called(name)}: {counted(removed, 'item')} removed."
        return SkillAnswer(said, said, data={"list": name, "items": [], "removed": removed})

    async def _overview(self, user_id: str) -> SkillAnswer:
        lists = await asyncio.to_thread(self.lists.lists, user_id)
        if not lists:
            said = "You don't have any lists yet. Try: add milk to my shopping list."
            return SkillAnswer(said, said, data={"lists": []})
        data = {"lists": [{"list": s.name, "items": s.items} for s in lists]}
        spoken_parts = [f"{s.name} with {counted(s.items, 'item')}" for s in lists]
        spoken = f"You have {counted(len(lists), 'list')}: {join_words(spoken_parts)}."
        lines = [f"- {s.name}: {counted(s.items, 'item')}" for s in lists]
        written = f"You have {counted(len(lists), 'list')}:\n" + "\n".join(lines)
        return SkillAnswer(written, spoken, data=data)


async def read_out(lists: ListService, user_id: str, name: str) -> SkillAnswer:
    """A list's items: one per line written, joined in a sentence spoken; an unknown or
    empty list is said so."""
    try:
        found = await asyncio.to_thread(lists.get, user_id, name)
    except NotFound:
        if name == NOTES:
            said = "You don't have any notes yet."
        else:
            said = f"You don't have a {name} list."
        return SkillAnswer(said, said, data={"list": name, "items": []})
    items = found.items
    if not items:
        said = "You don't have any notes yet." if name == NOTES else f"Your {name} list is empty."
        return SkillAnswer(said, said, data=_data(name, items))
    if name == NOTES:
        head = f"You have {counted(len(items), 'note')}"
        written = head + ":\n" + "\n".join(f"- {i.text}" for i in items)
        spoken_items = [i.text.rstrip(".") for i in items[:SPOKEN_ITEMS]]
        spoken = f"{head}. " + " ".join(f"{_capitalised(t)}." for t in spoken_items)
    else:
        head = f"You have {counted(len(items), 'thing')} on {called(name)}"
        written = (
            head + ":\n" + "\n".join(f"- {i.text}" + (" (done)" if i.done else "") for i in items)
        )
        spoken_items = [i.text for i in items[:SPOKEN_ITEMS]]
        spoken = f"{head}: {join_words(spoken_items)}."
    if len(items) > SPOKEN_ITEMS:
        more = len(items) - SPOKEN_ITEMS
        spoken = spoken.rstrip(".") + f", and {more} more."
    return SkillAnswer(written, spoken, data=_data(name, items))


class NoteSkill:
    """Short notes kept for the user ("note that the code is 1234"), read back on request,
    deleted one at a time ("delete the note about stamps")."""

    name = "note"
    summary = "Writes down a short note for the user, reads their notes back, deletes one."

    def __init__(self, lists: ListService) -> None:
        self.lists = lists

    def match(
        self, intent: str, slots: Mapping[str, str], context: SkillContext
    ) -> SkillCall | None:
        """The note's text; a "note that ..." that goes on to ask for something is chat."""
        action = intent.removeprefix(f"{self.name}.")
        if action == "show":
            return SkillCall(self.name, intent, {})
        if action not in ("add", "remove"):
            return None
        text = " ".join(slots.get("note_text", "").split())
        text = re.sub(r"^(?:that|:)\s+", "", text, flags=re.I).strip(" .")
        if not text or not item_key(text):
            question = "What should the note say?" if action == "add" else "Which note?"
            raise SlotProblem(question, slot="note_text")
        if action == "remove":
            return SkillCall(self.name, intent, {"text": text})
        if _REQUEST.search(text.lower()):
            return None
        if len(text) > MAX_ITEM_CHARS:
            raise SlotProblem(
                f"That is too long for a note: keep it under {MAX_ITEM_CHARS} characters.",
                "That is too long for a note. Could you say it more briefly?",
                slot="note_text",
            )
        return SkillCall(self.name, intent, {"text": _capitalised(text)})

    async def run(self, call: SkillCall, context: SkillContext) -> SkillAnswer:
        """Keep the note, or read the notes."""
        if call.intent == f"{self.name}.show":
            return await read_out(self.lists, context.user_id, NOTES)
        text = call.arguments["text"]
        if call.intent == f"{self.name}.remove":
            try:
                gone = await asyncio.to_thread(self.lists.remove, context.user_id, NOTES, text)
            except NotFound:
                said = f"I couldn't find a note about {text}."
                return SkillAnswer(said, said, data={"list": NOTES})
            said = f"Deleted the note: {gone.text}."
            return SkillAnswer(said, said, data={"list": NOTES, "removed": gone.id})
        outcome = await asyncio.to_thread(self.lists.add_items, context.user_id, NOTES, [text])
        if outcome.present:
            said = f"You already have that note: {outcome.present[0].text}."
            item = outcome.present[0]
        else:
            item = outcome.added[0]
            said = f"Noted: {item.text}."
        return SkillAnswer(
            said, said, data={"list": NOTES, "item": {"id": item.id, "text": item.text}}
        )
