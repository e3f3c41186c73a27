"""Shopping and to-do lists as Home Assistant's intents take them (phrasings of our own)."""

from __future__ import annotations

import pytest
import yaml

from edge_nlu.domain.context import RequestContext
from edge_nlu.domain.home import Home
from edge_nlu.domain.profiles import load_profiles
from edge_nlu.domain.result import NLU, Action, Slot
from edge_nlu.resolve.resolver import resolve

HOME = Home.from_dict(yaml.safe_load("""
areas:
  - {id: kitchen, name: Kitchen}
entities:
  - {id: light.kitchen, name: Kitchen light, area: kitchen, state: "off"}
  - {id: todo.shopping_list, name: Shopping list, state: "3"}
  - {id: todo.chores, name: Chores, state: "5", aliases: [house jobs]}
  - {id: todo.camping, name: Camping list, state: "0"}
"""))
PROFILES = load_profiles()


def act(text: str, intent: str, **spans: str) -> Action | None:
    """Resolve with the model's spans given by type -> the words they cover."""
    slots = tuple(Slot(ty, words, text.index(words), text.index(words) + len(words)) for ty, words in spans.items())
    action, said = resolve(NLU(intent, 0.9, slots), text, HOME, RequestContext.from_dict({"area": "Kitchen"}),
                           PROFILES)
    assert said is None
    return action


@pytest.mark.parametrize(("text", "item", "list_name", "todo"), [
    ("add tent pegs to my camping list", "tent pegs", "camping list", "todo.camping"),
    ("put tent pegs on the camping", "tent pegs", "camping", "todo.camping"),
    ("add mow the lawn to house jobs", "mow the lawn", "house jobs", "todo.chores"),
    ("add oat milk to the shopping list", "oat milk", "shopping list", "todo.shopping_list"),
])
def test_a_named_todo_list_gets_the_item(text: str, item: str, list_name: str, todo: str) -> None:
    want_name = HOME.entity(todo).name  # type: ignore[union-attr]
    assert act(text, "lists_createoradd", item=item, list_name=list_name) == Action(
        "HassListAddItem", {"item": item, "name": want_name}, (todo,))


@pytest.mark.parametrize("text", ["add oat milk to my list", "add oat milk to list"])
def test_no_list_named_is_the_shopping_list(text: str) -> None:
    # HA's shopping-list sentence: "[my|the] list" names no to-do entity
    assert act(text, "lists_createoradd", item="oat milk") == Action("HassShoppingListAddItem", {"item": "oat milk"})


@pytest.mark.parametrize(("text", "item", "list_name", "todo"), [
    ("check off sweep the yard from my chores list", "sweep the yard", "chores", "todo.chores"),
    ("complete tent pegs on the camping list", "tent pegs", "camping list", "todo.camping"),
])
def test_checking_off_a_named_list(text: str, item: str, list_name: str, todo: str) -> None:
    action = act(text, "lists_remove", item=item, list_name=list_name)
    assert action is not None and action.intent == "HassListCompleteItem"
    assert action.slots["item"] == item and action.targets == (todo,)


@pytest.mark.parametrize(("text", "item"), [
    ("remove bin bags from my list", "bin bags"),
    ("cross off bin bags on the list", "bin bags"),
])
def test_checking_off_the_shopping_list(text: str, item: str) -> None:
    assert act(text, "lists_remove", item=item) == Action("HassShoppingListCompleteItem", {"item": item})


def test_the_item_and_list_are_read_from_the_words_when_the_model_misses_them() -> None:
    assert act("add tent pegs to the camping list", "lists_createoradd") == Action(
        "HassListAddItem", {"item": "tent pegs", "name": "Camping list"}, ("todo.camping",))
    assert act("check sweep the yard off my chores list", "lists_remove") == Action(
        "HassListCompleteItem", {"item": "sweep the yard", "name": "Chores"}, ("todo.chores",))
    assert act("tick nappies off the shopping list", "lists_remove") == Action(
        "HassListCompleteItem", {"item": "nappies", "name": "Shopping list"}, ("todo.shopping_list",))


def test_shopping_list_names_the_todo_list_called_so_and_else_is_has_shopping_list() -> None:
    # HA prefers the reading that names an entity (recognize_best, best_slot_name "name")
    assert act("put oat milk on the shopping list", "lists_createoradd", item="oat milk") == Action(
        "HassListAddItem", {"item": "oat milk", "name": "Shopping list"}, ("todo.shopping_list",))
    bare = Home.from_dict({"areas": [{"id": "kitchen", "name": "Kitchen"}],
                           "entities": [{"id": "todo.chores", "name": "Chores", "state": "1"}]})
    slots = (Slot("item", "oat milk", 4, 12),)
    for text, intent, want in (("put oat milk on the shopping list", "lists_createoradd", "HassShoppingListAddItem"),
                               ("tick oat milk off the shopping list", "lists_remove", "HassShoppingListCompleteItem")):
        shifted = tuple(Slot(s.type, s.value, text.index(s.value), text.index(s.value) + len(s.value)) for s in slots)
        action, _ = resolve(NLU(intent, 0.9, shifted), text, bare, RequestContext.from_dict({"area": "Kitchen"}),
                            PROFILES)
        assert action == Action(want, {"item": "oat milk"})


def test_the_item_is_every_word_between_the_verb_and_the_list() -> None:
    assert act("add clean the gutters to the chores list", "lists_createoradd", item="gutters",
               list_name="chores") == Action("HassListAddItem", {"item": "clean the gutters", "name": "Chores"},
                                             ("todo.chores",))


def test_a_list_the_home_lacks() -> None:
    # HA answers that there is no such list; a grocery list without one is the shopping list
    assert act("add paint to my diy list", "lists_createoradd", item="paint", list_name="diy") == Action(
        "HassListAddItem", {"item": "paint", "name": "diy"})
    assert act("add eggs to the grocery list", "lists_createoradd", item="eggs", list_name="grocery list") == Action(
        "HassShoppingListAddItem", {"item": "eggs"})


def test_no_item_is_no_list_action() -> None:
    # creating or deleting a whole list: HA has no intent for it
    assert act("delete my camping list", "lists_remove", list_name="camping list") is None
    assert act("make a new list", "lists_createoradd") is None


def test_the_words_after_the_item_name_the_list_whatever_the_model_marked() -> None:
    # the model marked part of the item as the list: the words after it still say which list
    assert act("check off book the vet on camping list", "lists_remove", item="book the vet",
               list_name="vet") == Action("HassListCompleteItem", {"item": "book the vet", "name": "Camping list"},
                                          ("todo.camping",))
    assert act("delete book the vet from my list", "lists_remove", item="book the vet", list_name="the vet") == Action(
        "HassShoppingListCompleteItem", {"item": "book the vet"})


def test_a_marked_item_outside_the_words_between_verb_and_list_gives_way() -> None:
    # the model marked the verb as the item: HA's wildcard is the words between the verb and the list
    assert act("tick bin bags off my list", "lists_remove", item="tick") == Action(
        "HassShoppingListCompleteItem", {"item": "bin bags"})
