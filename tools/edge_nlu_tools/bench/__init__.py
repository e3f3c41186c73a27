"""`edge-nlu bench`: per-stage latency, cold start, memory, sizes and MACs against teacher baselines."""
