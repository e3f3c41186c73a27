"""'Broadcast dinner is ready': HassBroadcast with the message, read from the words.

The model has no label for it yet (issue 12); the request is formulaic, as in HA's own templates: a
verb that sends to every satellite, an optional 'everywhere' / 'to everyone' / 'that', the message.
"""

from __future__ import annotations

import re

from edge_nlu.domain.result import Action
from edge_nlu.resolve.match import Request

_LEAD = re.compile(r"^(?:please\s+)?(?:broadcast|announce|tell everyone|tell everybody|tell the whole house|"
                   r"let everyone know|let everybody know)\b\s*(?:everywhere\s+|to everyone\s+|to everybody\s+|"
                   r"to the (?:whole )?house\s+|in every room\s+)?(?:that\s+)?(?P<message>.+)$")


def broadcast_action(req: Request) -> Action | None:
    m = _LEAD.match(req.t)
    if m is None or req.entities:  # 'announce the doorbell on the kitchen speaker' names a device
        return None
    return Action("HassBroadcast", {"message": m.group("message").strip()})
