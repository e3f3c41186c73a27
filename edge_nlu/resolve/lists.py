"""Shopping and to-do lists: adding an item, and checking one off, as Home Assistant's intents expect.

HA has two pairs of intents. HassListAddItem / HassListCompleteItem act on a `todo` entity, named by
the list's name ("add bread to the weekend plans", slots `item` and `name`); HassShoppingListAddItem /
HassShoppingListCompleteItem act on the shopping list when no named list is meant ("add bread to my
list", slot `item` only). HA's matcher prefers the reading that names an entity, so a list name the
default agent prefers the reading that names an entity (hassil's recognize_best, best_slot_name "name"),
so a list the words name that is one of the home's to-do lists means that list, "my shopping list"
included where the home has a to-do list called so; "the list", "my list", or a shopping or grocery
list the home lacks is the shopping list. Another named list the home lacks keeps its name for
HassListAddItem (HA answers that there is no such list).
"""

from __future__ import annotations

import re

from edge_nlu.domain.home import Entity, norm
from edge_nlu.domain.result import Action
from edge_nlu.resolve.match import Request

_ADD = re.compile(r"^(?:please )?(?:add|put|stick|write|pop|include) (?P<item>.+) "
                  r"(?:to|on|onto|in|into) (?P<list>.+)$")
_DONE = re.compile(r"^(?:please )?(?:check|complete|delete|remove|tick|cross|mark|take|strike|scratch)"
                   r"(?: off)? (?P<item>.+?)(?: off| as done| as complete)? (?:from|on|in|off|of) (?P<list>.+)$")
_DETERMINERS = ("my ", "the ", "our ", "a ")
_SHOPPING = frozenset({"shopping", "grocery", "groceries"})
LIST_INTENTS = frozenset({"lists_createoradd", "lists_remove"})
"""The model's intents about list items."""


def list_action(req: Request) -> Action | None:
    """The HA list intent for the model's lists_createoradd / lists_remove, else None (no item: HA has
    no intent to create or delete a whole list)."""
    intent = req.nlu.intent
    if intent not in LIST_INTENTS:
        return None
    adding = intent == "lists_createoradd"
    said = (_ADD if adding else _DONE).match(req.t)
    item = req.slot("item")
    between = said.group("item") if said else ""
    if between and (not item or norm(item) != between):
        item = between  # HA reads the item as every word between the verb and the list, whatever the model marked
    if not item or not item.strip():
        return None
    slots = {"item": item.strip()}
    marked = req.slot("list_name")
    spoken = _key(said.group("list")) if said else None
    # the words after the item name the list, as HA's template reads them; the model's mark only where
    # the words do not parse or name none of the home's lists ('... on shopping list' is the list, whatever
    # part of the item the model marked)
    spoken_todo = _todo(req, spoken) if spoken else None
    if spoken is not None and (spoken_todo is not None or not marked or not spoken):
        phrase, todo = spoken, spoken_todo
    else:
        phrase = _key(marked) if marked else spoken or ""
        todo = _todo(req, phrase)
    if not phrase or todo is None and set(phrase.split()) <= _SHOPPING:
        # "my list", a shopping or grocery list the home does not have: the shopping list
        return Action("HassShoppingListAddItem" if adding else "HassShoppingListCompleteItem", slots)
    named = "HassListAddItem" if adding else "HassListCompleteItem"
    if todo is not None:
        return Action(named, {**slots, "name": todo.name}, (todo.id,))
    return Action(named, {**slots, "name": phrase})


def _key(name: str) -> str:
    """A list's name as compared: no determiner, no trailing 'list' ('my packing list list' -> 'packing')."""
    key = norm(name)
    while key.startswith(_DETERMINERS):
        key = key.split(" ", 1)[1] if " " in key else ""
    while key == "list" or key.endswith(" list"):
        key = key[: -len("list")].strip()
    return key


def _todo(req: Request, phrase: str) -> Entity | None:
    """The home's to-do list with this name (or alias)."""
    if not phrase:
        return None
    return next((e for e in req.home.entities if e.domain == "todo"
                 and any(_key(n) == phrase for n in e.names())), None)
