"""Query parameters given more than once where the document allows one value.

Litestar reads the first of ``?keep_gps=false&keep_gps=true`` and drops the rest, so a
request the OpenAPI document calls invalid (an array where a scalar is declared) would be
answered as if it were valid, with a value the client may not have meant. A route's
scalar query parameters are read from its handler's signature; a repeated one is a 400
problem naming it.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.exceptions import ValidationException
from litestar.handlers import BaseRouteHandler
from litestar.params import BodyKwarg, DependencyKwarg, ParameterKwarg


def scalar_query_names(handler: BaseRouteHandler) -> frozenset[str]:
    """The query parameters of ``handler`` that take one value (by their names on the URL)."""
    found = set()
    for argument, field in handler.parsed_fn_signature.parameters.items():
        kwarg = field.kwarg_definition
        if isinstance(kwarg, BodyKwarg | DependencyKwarg) or field.is_non_string_sequence:
            continue
        if isinstance(kwarg, ParameterKwarg):
            if kwarg.header or kwarg.cookie:
                continue
            found.add(kwarg.query or argument)
        else:
            found.add(argument)
    return frozenset(found)


async def refuse_repeated_scalars(request: Request[Any, Any, Any]) -> None:
    """``before_request``: a 400 when a one-value query parameter comes more than once."""
    repeated = [name for name, values in request.query_params.dict().items() if len(values) > 1]
    if repeated:  # rare: the handler's signature is read only then
        scalars = scalar_query_names(request.route_handler)
        repeated = [name for name in repeated if name in scalars]
    if repeated:
        name = repeated[0]
        times = len(request.query_params.getall(name))
        raise ValidationException(
            detail=f"The query parameter {name!r} was given {times} times; it takes one value."
        )
