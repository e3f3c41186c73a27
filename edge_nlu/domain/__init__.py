"""Pure data: the home, the request context, the result object, the intent schema and device profiles.

The bottom layer: it imports nothing of edge-nlu but `errors` and `sanitize`, and no I/O library.
"""
