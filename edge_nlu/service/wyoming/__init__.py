"""`edge-nlu wyoming`: edge-nlu as a Wyoming intent service, the way Home Assistant adds a conversation agent.

`events` is the wire format as pure functions (typed values <-> Wyoming events), `settings` the frozen
settings, `homes` where the home comes from, and `server` the transport (wyoming's AsyncServer). See
docs/wyoming.md.
"""
