"""Talk about the assistant itself, as Home Assistant's HassRespond answers it.

HA's English data answers a handful of formulaic requests with a fixed response and no action on the
home: a greeting, "are you always listening / recording", "where does my data go", "what can I say /
ask", "who made you". They are read from the whole utterance (never a part of a longer request, so
"hi, turn on the lights" stays a command), whatever the model said; the answers are this runtime's
own and true of it: it runs on the hub, offline.
"""

from __future__ import annotations

import re

from edge_nlu.domain.result import Action
from edge_nlu.resolve.match import Request

_FILLER = r"(?:(?:hey|ok|okay|so|um|please)\s+)*"
_SAID: tuple[tuple[str, str], ...] = (
    (r"(?:hello|hi|hey|hiya|good (?:morning|afternoon|evening))(?: there)?(?: home assistant| assistant)?",
     "Hello! What can I do for you?"),
    (r"are you (?:always |still )?(?:listening|recording)(?: (?:to me|all the time))?",
     "I only listen after the wake word, and what you say is understood here on the hub."),
    (r"(?:where|who) does (?:my|the|our) (?:data|voice|recordings?) go(?: to)?",
     "Nowhere: your requests are understood here on the hub and never leave your home."),
    (r"what (?:can|should|could) i (?:say|ask|do)(?: you)?",
     "You can switch things on and off, set lights, covers and the heating, play music and films, "
     "start timers, add to your lists, or ask how anything in the home is."),
    (r"who (?:made|created|built|wrote|programmed) you",
     "I was made by the edge-nlu project, an open-source assistant that runs on your own hub."),
)
_ANSWERS = tuple((re.compile(rf"^{_FILLER}{p}(?:\s+please)?$"), a) for p, a in _SAID)


def about_assistant(req: Request) -> tuple[Action, str] | None:
    """HassRespond and its answer for a request about the assistant itself, else None."""
    t = req.t.strip(" ?!.,")
    for pattern, answer in _ANSWERS:
        if pattern.match(t):
            return Action("HassRespond"), answer
    return None
