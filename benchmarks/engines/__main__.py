"""``python -m benchmarks.engines``: see benchmarks.engines.run."""

from __future__ import annotations

import sys

from benchmarks.engines.run import main

if __name__ == "__main__":
    sys.exit(main())
