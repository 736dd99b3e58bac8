"""Run every benchmark: ``python -m benchmarks`` (add ``--quick`` for the short phase run)."""

from __future__ import annotations

import sys

from . import neurokit_compare, phase_accuracy, sync_detection, throughput

if __name__ == "__main__":
    quick = "--quick" in sys.argv[1:]
    for title, run in (("phase accuracy", lambda: phase_accuracy.main(["--quick"] if quick else [])),
                       ("synchrony detection", lambda: sync_detection.main([])),
                       ("throughput", throughput.main),
                       ("NeuroKit2 side by side", neurokit_compare.main)):
        print(f"\n=== {title} ===")
        run()
