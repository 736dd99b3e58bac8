"""Run every benchmark: ``python -m benchmarks`` (add ``--quick`` for the short phase run).

Each prints its own table; the monitor benchmark runs the real window offscreen.
"""

from __future__ import annotations

import os
import sys

from . import neurokit_compare, phase_accuracy, rsa_live, sync_detection, throughput

if __name__ == "__main__":
    quick = "--quick" in sys.argv[1:]
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from . import bench_monitor

    for title, run in (("phase accuracy", lambda: phase_accuracy.main(["--quick"] if quick else [])),
                       ("synchrony detection", lambda: sync_detection.main([])),
                       ("throughput", throughput.main),
                       ("live RSA", lambda: rsa_live.main([])),
                       ("NeuroKit2 side by side", neurokit_compare.main),
                       ("live monitor", lambda: bench_monitor.main(
                           ["--frames", "100", "--live-s", "20"] if quick else []))):
        print(f"\n=== {title} ===", flush=True)
        run()
