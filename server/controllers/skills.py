"""``/api/v1/skills``: what the assistant can do besides chat, with example sentences."""

from __future__ import annotations

import anyio
import msgspec
from litestar import Controller, get

from server.deps import PrincipalDep, SkillsDep
from server.problems import problems


class SkillInfoOut(msgspec.Struct, kw_only=True):
    """A skill: what it does, its intents, example sentences, and whether it is on."""

    name: str
    """Its name: the value to put in the ``disabled_skills`` preference to turn it off."""
    summary: str
    """What it does."""
    intents: list[str]
    """Its intents (``timer.start``), as a reply's ``skill.intent`` names them."""
    examples: dict[str, list[str]]
    """Example sentences per language (ISO 639-1)."""
    enabled: bool
    """False when the user turned it off (``disabled_skills``)."""


class SkillsOut(msgspec.Struct, kw_only=True):
    """Every skill the assistant has."""

    skills: list[SkillInfoOut]
    enabled: bool
    """False when skills are off on this device (``skills.enabled``): chat answers all."""


class SkillsController(Controller):
    """The skills: requests a skill answers before the chat model."""

    path = "/api/v1/skills"
    tags = ["skills"]

    @get("/", responses=problems(401), summary="List the skills")
    async def list_skills(self, principal: PrincipalDep, skill_router: SkillsDep) -> SkillsOut:
        """Every skill with its intents and example sentences per language, and whether
        the caller has it on. A request one of them matches (typed in chat, spoken, or
        sent by Home Assistant) is answered by the skill, not the chat model; the reply's
        ``skill`` field says which, how it was chosen and with what arguments."""
        infos = await anyio.to_thread.run_sync(skill_router.catalogue, principal.user_id)
        return SkillsOut(
            skills=[
                SkillInfoOut(
                    name=info.name,
                    summary=info.summary,
                    intents=list(info.intents),
                    examples={k: list(v) for k, v in info.examples.items()},
                    enabled=info.enabled,
                )
                for info in infos
            ],
            enabled=skill_router.enabled,
        )
