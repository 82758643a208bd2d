"""Errors as Wyoming ``error`` events: the one classification, rendered for this face."""

from __future__ import annotations

from wyoming.error import Error
from wyoming.event import Event

from server.problems import classify, report


def error_event(exc: BaseException, where: str) -> Event:
    """``error`` with the problem's detail as ``text`` and its stable code (logged once)."""
    problem = classify(exc, path=where, request_id=where)
    report(problem, exc, where)
    return Error(text=problem.detail, code=problem.code).event()
