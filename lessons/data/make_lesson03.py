"""Regenerate ``lessons/data/lesson03.json``, the runs lesson 03 reads instead of waiting for
them (the lesson must run in 30 s on two cores):

    .venv/bin/python lessons/data/make_lesson03.py          # from the repository root

- ``gap``: the vision track's supervisors x {xent, conf} for the ``mlp-large`` probe, five
  seeds (``w2s.experiment.sweep``'s format), for PGR against the size of the gap;
- ``alpha``: the confidence loss at alpha_max 0.25, 0.75 and 1.0 for the default supervisor,
  seeds 0 and 1 (0 and 0.5 are plain ``xent`` and ``conf``, which the lesson trains live).

Training is seeded and deterministic, so lesson 03 re-checks cached numbers live.
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from w2s.experiment import METRICS, Config, run_seeds, sweep  # noqa: E402

OUT = Path(__file__).resolve().parent / "lesson03.json"
COMMAND = ".venv/bin/python lessons/data/make_lesson03.py"
ALPHA_SEEDS = [0, 1]


def main() -> int:
    base = Config(track="vision", strong="mlp-large")
    gap = sweep(strong=["mlp-large"], losses=("xent", "conf"), seeds=5, base=base, progress=True)
    alpha = []
    for alpha_max in (0.25, 0.75, 1.0):
        summary = run_seeds(Config(track="vision", strong="mlp-large", loss="conf",
                                   alpha_max=alpha_max), ALPHA_SEEDS)
        alpha.append({"alpha_max": alpha_max, **{m: summary[m] for m in METRICS}})
    OUT.write_text(json.dumps({"command": COMMAND, "gap": gap, "alpha_seeds": ALPHA_SEEDS,
                               "alpha": alpha}, indent=1) + "\n")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
