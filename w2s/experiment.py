"""The whole weak-to-strong protocol for one configuration and seed. Lessons 02-04.

1. split the training data into halves A and B (plus a fixed test set);
2. train the weak model on A's ground truth            -> P_weak;
3. let it label B: the weak (soft) labels;
4. train the strong student on B's weak labels          -> P_weak->strong;
5. train the same student on B's ground truth           -> P_ceiling;
6. PGR = (P_weak->strong - P_weak) / (P_ceiling - P_weak).
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from w2s import data as data_mod
from w2s.metrics import accuracy, agreement_on_weak_errors, pgr
from w2s.models import STRONG_ORDER, WEAK_ORDER, StrongModel, WeakModel


def fast_mode() -> bool:
    """``W2S_FAST=1`` shrinks training for tests; the code path stays the same."""
    return os.environ.get("W2S_FAST", "") not in ("", "0")


@dataclass(frozen=True)
class Config:
    """One weak-to-strong experiment. ``pretrain="none"`` is the from-scratch contrast."""
    dataset: str = "digits"
    weak: str = "noisy-0.8"
    strong: str = "mlp-large"
    loss: str = "xent"            # xent | conf | kd
    pretrain: str = "simclr"      # simclr | none
    mode: str = "probe"           # probe (frozen body) | finetune (all weights)
    epochs: int = 60
    lr: float | None = None
    hard_labels: bool = False     # train on argmax weak labels instead of soft ones
    alpha_max: float = 0.5
    warmup_frac: float = 0.2
    early_stopping: bool = False

    def effective_epochs(self) -> int:
        return max(3, self.epochs // 10) if fast_mode() else self.epochs


@dataclass
class Result:
    """What one run measured (accuracies are fractions in [0, 1])."""
    config: Config
    seed: int
    p_weak: float
    p_ceiling: float
    p_weak_to_strong: float
    pgr: float
    agreement_on_weak_errors: float
    seconds: float
    history: dict = field(default_factory=dict, repr=False)

    def as_row(self) -> dict:
        return {k: getattr(self, k) for k in
                ("p_weak", "p_ceiling", "p_weak_to_strong", "pgr", "agreement_on_weak_errors")}


def make_student(config: Config, split: data_mod.Split) -> StrongModel:
    """The strong student: pretrained body (or fresh, for ``pretrain='none'``) + new head."""
    from w2s.pretrain import load_body

    model = StrongModel(config.strong, split.x_a.shape[1], split.n_classes)
    if config.pretrain == "simclr":
        model.body = load_body(split.name, config.strong, split.x_a.shape[1])
    elif config.pretrain != "none":
        raise ValueError(f"unknown pretrain {config.pretrain!r}; choose 'simclr' or 'none'")
    return model


def train_weak(config: Config, split: data_mod.Split, seed: int) -> WeakModel:
    return WeakModel(config.weak, seed=seed).fit(split.x_a, split.y_a)


def fit_student(config: Config, split, targets, seed, *, record_history=False, progress=None,
                val=None):
    """Train a fresh student of ``config`` on B with ``targets``; returns (model, History)."""
    import torch

    from w2s.train import train_student

    torch.manual_seed(seed)
    model = make_student(config, split)
    # A from-scratch body is never frozen: a random frozen body is no contrast at all.
    mode = "finetune" if config.pretrain == "none" else config.mode
    eval_kw = dict(x_eval=split.x_test, y_eval=split.y_test) if record_history else {}
    val_kw = dict(x_val=val[0], val_targets=val[1]) if val is not None else {}
    return train_student(model, split.x_b, targets, loss=config.loss, mode=mode,
                         epochs=config.effective_epochs(), lr=config.lr, seed=seed,
                         alpha_max=config.alpha_max, warmup_frac=config.warmup_frac,
                         progress=progress, **eval_kw, **val_kw)


def run_experiment(config: Config = Config(), seed: int = 0, *, ceiling=None,
                   record_history=False, progress=None) -> Result:
    """Run the protocol once. ``ceiling`` reuses an already measured P_ceiling (a sweep
    trains the ceiling once per student and seed, not once per supervisor)."""
    from w2s.train import one_hot, predict_proba

    start = time.perf_counter()
    split = data_mod.load(config.dataset, seed)
    weak_model = train_weak(config, split, seed)
    weak_test_pred = weak_model.predict(split.x_test)
    p_weak = accuracy(weak_test_pred, split.y_test)

    weak_labels = weak_model.predict_proba(split.x_b)
    if config.hard_labels:
        weak_labels = one_hot(weak_labels.argmax(1), split.n_classes)
    val = None
    x_b = split.x_b
    if config.early_stopping:
        # hold out a fifth of B, labelled by the weak model, to choose the stopping epoch
        n_val = len(x_b) // 5
        val = (x_b[:n_val], weak_labels[:n_val])
        split = replace(split, x_b=x_b[n_val:], y_b=split.y_b[n_val:])
        weak_labels = weak_labels[n_val:]

    student, history = fit_student(config, split, weak_labels, seed,
                                   record_history=record_history, progress=progress, val=val)
    student_pred = predict_proba(student, split.x_test).argmax(1)
    p_w2s = accuracy(student_pred, split.y_test)

    if ceiling is None:
        ceiling_cfg = replace(config, loss="xent", hard_labels=False)
        ceiling_model, _ = fit_student(ceiling_cfg, split, one_hot(split.y_b, split.n_classes),
                                       seed, progress=progress)
        ceiling = accuracy(predict_proba(ceiling_model, split.x_test).argmax(1), split.y_test)

    return Result(config, seed, p_weak, ceiling, p_w2s,
                  pgr(p_weak, p_w2s, ceiling) if ceiling > p_weak else float("nan"),
                  agreement_on_weak_errors(student_pred, weak_test_pred, split.y_test),
                  time.perf_counter() - start,
                  {"epochs": history.epochs, "eval_accuracy": history.eval_accuracy,
                   "train_loss": history.train_loss, "best_epoch": history.best_epoch})


def summarize(values) -> dict:
    """``{"mean", "std", "per_seed"}`` of a list of per-seed values."""
    arr = np.asarray(values, dtype=float)
    return {"mean": float(np.nanmean(arr)), "std": float(np.nanstd(arr)),
            "per_seed": [float(v) for v in arr]}


METRICS = ("p_weak", "p_ceiling", "p_weak_to_strong", "pgr", "agreement_on_weak_errors")


def run_seeds(config: Config = Config(), seeds=5, progress=False) -> dict:
    """Run ``seeds`` seeds (an int n means 0..n-1); returns the contract's summary dict."""
    from tqdm.auto import tqdm

    seeds = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    start = time.perf_counter()
    results = []
    for seed in tqdm(seeds, desc=f"{config.weak} -> {config.strong} ({config.loss})",
                     unit="seed", disable=not progress):
        results.append(run_experiment(config, seed))
    out = {m: summarize([getattr(r, m) for r in results]) for m in METRICS}
    out["seconds"] = time.perf_counter() - start
    out["config"] = {**asdict(config), "seeds": seeds, "fast": fast_mode()}
    out["results"] = results
    return out


def sweep(weak=WEAK_ORDER, strong=STRONG_ORDER, losses=("xent", "conf"), seeds=5,
          base: Config = Config(), progress=False) -> dict:
    """Every supervisor x student x loss, the ceiling trained once per student and seed."""
    from tqdm.auto import tqdm

    from w2s.train import one_hot, predict_proba

    seeds = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    start = time.perf_counter()
    bar = tqdm(total=len(strong) * len(seeds) * (1 + len(weak) * len(losses)), unit="run",
               desc="sweep", disable=not progress)
    per_cell = {}
    for strong_name in strong:
        for seed in seeds:
            cfg = replace(base, strong=strong_name)
            split = data_mod.load(cfg.dataset, seed)
            ceiling_model, _ = fit_student(replace(cfg, loss="xent"), split,
                                           one_hot(split.y_b, split.n_classes), seed)
            ceiling = accuracy(predict_proba(ceiling_model, split.x_test).argmax(1), split.y_test)
            bar.update(1)
            for weak_name in weak:
                for loss in losses:
                    bar.set_postfix_str(f"{weak_name}->{strong_name} {loss}")
                    res = run_experiment(replace(cfg, weak=weak_name, loss=loss), seed,
                                         ceiling=ceiling)
                    per_cell.setdefault((weak_name, strong_name, loss), []).append(res)
                    bar.update(1)
    bar.close()
    rows = []
    for (weak_name, strong_name, loss), results in per_cell.items():
        row = {"weak": weak_name, "strong": strong_name, "loss": loss}
        row.update({m: summarize([getattr(r, m) for r in results]) for m in METRICS})
        rows.append(row)
    return {"weak_order": list(weak), "strong_order": list(strong), "losses": list(losses),
            "seeds": seeds, "rows": rows, "seconds": time.perf_counter() - start,
            "config": {**asdict(base), "fast": fast_mode()}}
