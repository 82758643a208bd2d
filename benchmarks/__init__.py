"""Speed of the runtime measured against the bare engine libraries, in the same run.

``python -m benchmarks.engines`` and ``python -m benchmarks.chat``; see benchmarks/README.md.
"""
