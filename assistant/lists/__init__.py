"""Notes and lists: named lists per user, their items, and the rules that match them."""

from assistant.lists.models import Added, Item, ItemList, ListSummary
from assistant.lists.service import ListService

__all__ = ["Added", "Item", "ItemList", "ListService", "ListSummary"]
