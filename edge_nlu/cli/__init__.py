"""The `edge-nlu` command: one module per command; `edge_nlu.cli.main` dispatches (the entry point)."""
