"""Developer tools for edge-nlu, kept out of the runtime wheel: the live demo and the latency benchmark.

They plug into the `edge-nlu` command through the `edge_nlu.commands` entry points; the runtime
never imports this package.
"""
