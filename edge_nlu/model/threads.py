"""Thread limits for numpy's BLAS, set once by the entry point.

OpenBLAS runs every matrix product on one thread per core. The runtime's products are small (the
online rewriter's index search is a 6,000 x 384 matrix times a vector), and on a hub the other cores
are busy with the broker, Zigbee2MQTT and Home Assistant: the BLAS threads then wait on each other.
Measured here with the other core busy: that search took 7.9 ms with OpenBLAS's default threads and
0.27 ms with one. One thread is faster and leaves the neighbours alone. ONNX Runtime's own thread
pools are set per session (`RuntimeSettings.threads`) and are not touched.
"""

from __future__ import annotations

from typing import Any


def limit_blas_threads(n: int = 1) -> list[dict[str, Any]]:
    """Limit every loaded BLAS to `n` threads; returns what threadpoolctl reports after the change."""
    from threadpoolctl import threadpool_info, threadpool_limits

    threadpool_limits(limits=max(1, int(n)), user_api="blas")
    return [i for i in threadpool_info() if i.get("user_api") == "blas"]
