"""``/api/v1/lists``: the caller's named lists (shopping, to-do, notes...) for companion apps.

The same lists the list and note skills keep by voice and chat ("add milk to the shopping
list"); a list is made by its first item and named canonically, so ``To Do``, ``todo``
and ``to-do`` in a path are one list.
"""

from __future__ import annotations

from typing import Annotated

import anyio
from litestar import Controller, delete, get, patch, post
from litestar.params import JSONBody, Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from assistant.lists.models import MAX_NAME_CHARS
from server.deps import ListsDep, PrincipalDep
from server.problems import JSON_BODY, PARAMETERS, problems
from server.schemas.common import Deleted
from server.schemas.lists import ItemChange, ItemIn, ItemListOut, ItemOut, ListOut, ListsOut

Name = Annotated[
    str,
    Parameter(
        min_length=1,
        max_length=MAX_NAME_CHARS,
        description="The list's name (shopping, to-do, notes, any name; case does not matter)",
    ),
]
ItemId = Annotated[str, Parameter(min_length=1, max_length=64, description="The item's id")]


class ListsController(Controller):
    """The caller's lists; nobody can read or change another user's."""

    path = "/api/v1/lists"
    tags = ["lists"]

    @get("/", responses=problems(401), summary="My lists")
    async def all_lists(self, principal: PrincipalDep, lists: ListsDep) -> ListsOut:
        """Every list with how many items it holds, by name."""
        found = await anyio.to_thread.run_sync(lists.lists, principal.user_id)
        return ListsOut(lists=[ListOut.of(s) for s in found])

    @get("/{name:str}", responses=problems(*PARAMETERS, 401, 404), summary="One list")
    async def one_list(self, name: Name, principal: PrincipalDep, lists: ListsDep) -> ItemListOut:
        """Its items, oldest first, each with its id and done flag."""
        found = await anyio.to_thread.run_sync(lists.get, principal.user_id, name)
        return ItemListOut.of(found)

    @post(
        "/{name:str}/items",
        status_code=HTTP_201_CREATED,
        responses=problems(*JSON_BODY, *PARAMETERS, 401, 409),
        summary="Add an item",
    )
    async def add_item(
        self, name: Name, data: JSONBody[ItemIn], principal: PrincipalDep, lists: ListsDep
    ) -> ItemOut:
        """The list is made if it is new. An item already there (the same words, whatever
        the case, "the" or plural) is a 409 whose ``extra.item_id`` names it. A list holds
        at most 1000 items, and a user at most 200 lists (409 beyond)."""
        item = await anyio.to_thread.run_sync(lists.add, principal.user_id, name, data.text)
        return ItemOut.of(item)

    @patch(
        "/{name:str}/items/{item_id:str}",
        responses=problems(*JSON_BODY, *PARAMETERS, 401, 404),
        summary="Tick an item off",
    )
    async def change_item(
        self,
        name: Name,
        item_id: ItemId,
        data: JSONBody[ItemChange],
        principal: PrincipalDep,
        lists: ListsDep,
    ) -> ItemOut:
        """Set its done flag; it stays on the list until removed."""
        item = await anyio.to_thread.run_sync(
            lists.set_done, principal.user_id, name, item_id, data.done
        )
        return ItemOut.of(item)

    @delete(
        "/{name:str}/items/{item_id:str}",
        status_code=HTTP_204_NO_CONTENT,
        responses=problems(*PARAMETERS, 401, 404),
        summary="Remove an item",
    )
    async def remove_item(
        self, name: Name, item_id: ItemId, principal: PrincipalDep, lists: ListsDep
    ) -> None:
        """The item is deleted; the list stays, even when empty."""
        await anyio.to_thread.run_sync(lists.remove_item, principal.user_id, name, item_id)

    @delete(
        "/{name:str}",
        status_code=HTTP_200_OK,
        responses=problems(*PARAMETERS, 401, 404),
        summary="Delete a list",
    )
    async def delete_list(self, name: Name, principal: PrincipalDep, lists: ListsDep) -> Deleted:
        """The list and every item on it; ``deleted`` counts the items."""
        removed = await anyio.to_thread.run_sync(lists.delete, principal.user_id, name)
        return Deleted(deleted=removed)
