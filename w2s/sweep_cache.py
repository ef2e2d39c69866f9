"""The cached weak x strong sweep that lesson 04 draws as heat maps (``lessons/data/sweep.json``).

It is a cache of ``w2s.experiment.sweep`` (under a minute of training on an idle 2-core
machine, longer on a busy one; the file records how long it took in ``seconds``), kept in the
repository so that the lesson stays fast; ``SWEEP_COMMAND`` regenerates it, and
``tests/course/test_lessons.py`` checks that it still matches what the library computes.
"""

from __future__ import annotations

import json
from pathlib import Path

SWEEP_CACHE = Path(__file__).resolve().parent.parent / "lessons" / "data" / "sweep.json"
SWEEP_COMMAND = ".venv/bin/w2s sweep --seeds 5 --json lessons/data/sweep.json"


def load_cached_sweep(path: Path = SWEEP_CACHE) -> dict:
    """The 5-seed sweep stored at ``path``, or an error that says how to regenerate it."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing. Regenerate it from the repository root "
                                f"with `{SWEEP_COMMAND}` (under a minute on an idle machine).")
    try:
        sweep = json.loads(path.read_text())
        missing = {"weak_order", "strong_order", "losses", "seeds", "rows"} - set(sweep)
    except (ValueError, TypeError):
        missing = {"valid JSON"}
    if missing:
        raise ValueError(f"{path} is not a sweep result (lacks {sorted(missing)}). "
                         f"Regenerate it with `{SWEEP_COMMAND}`.")
    return sweep
