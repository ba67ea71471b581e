"""The echo function the benchmark deploys (Python): returns its event. `probe` reports whether the worker is reused."""
import os

_count = 0


def handler(event, context):
    return event


def probe(event, context):
    global _count
    _count += 1
    return {"pid": os.getpid(), "count": _count}
