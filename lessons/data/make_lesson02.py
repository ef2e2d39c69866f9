"""Regenerate ``lessons/data/lesson02.json``, the runs lesson 02 reads instead of waiting for
them (full fine-tunes take minutes on two cores; the lesson must run in 30 s):

    .venv/bin/python lessons/data/make_lesson02.py          # from the repository root

- ``ablation``: pre-training x mode on the language-model track. Four students of the same
  architecture on the same weak labels, with the same lr and epochs within a mode: pretrained
  (next-token) or random init, linear probe or full fine-tune; seeds 0-2.
- ``curves``: test accuracy per epoch on the vision track's label-noise contrast (noisy-0.8),
  for a pretrained probe and a fully fine-tuned random-init student, trained to the end and
  with early stopping on a weak-labelled fifth of B; seed 0.

Training is seeded and deterministic, so lesson 02 re-checks cached numbers live.
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from w2s.experiment import METRICS, Config, run_experiment, run_seeds  # noqa: E402

LM_STRONG = "lm-m"
SEEDS = [0, 1]
OUT = Path(__file__).resolve().parent / "lesson02.json"
COMMAND = ".venv/bin/python lessons/data/make_lesson02.py"


def curve_configs(early_stopping: bool) -> dict:
    return {"pretrained, probe": Config(track="vision", weak="noisy-0.8", mode="probe",
                                        early_stopping=early_stopping),
            "random init, fine-tuned": Config(track="vision", weak="noisy-0.8", pretrain="none",
                                              mode="finetune", early_stopping=early_stopping)}


def main() -> int:
    ablation = []
    for mode in ("probe", "finetune"):
        for pretrain in ("next-token", "none"):
            config = Config(track="lm", strong=LM_STRONG, pretrain=pretrain, mode=mode)
            summary = run_seeds(config, SEEDS, progress=True)
            ablation.append({"pretrain": pretrain, "mode": mode, "config": config.as_dict(),
                             "seconds": summary["seconds"],
                             **{m: summary[m] for m in METRICS}})
    curves = []
    for early_stopping in (False, True):
        for label, config in curve_configs(early_stopping).items():
            result = run_experiment(config, 0, record_history=True)
            curves.append({"student": label, "early_stopping": early_stopping,
                           "config": config.as_dict(), "seed": 0,
                           **{m: getattr(result, m) for m in METRICS},
                           "eval_accuracy": result.history["eval_accuracy"],
                           "best_epoch": result.history["best_epoch"]})
    OUT.write_text(json.dumps({"command": COMMAND, "seeds": SEEDS, "lm_strong": LM_STRONG,
                               "ablation": ablation, "curves": curves}, indent=1) + "\n")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
