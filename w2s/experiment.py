"""The whole weak-to-strong protocol for one configuration and seed. Lessons 01-04.

1. split the training data into halves A and B (plus a fixed test set);
2. train the weak model on A's ground truth            -> P_weak;
3. let it label B: the weak (soft) labels;
4. train the strong student on B's weak labels          -> P_weak→strong;
5. train the same student on B's ground truth           -> P_ceiling;
6. PGR = (P_weak→strong - P_weak) / (P_ceiling - P_weak).

Steps 1-3 and 5 are ``protocol``: every runner (``run_experiment``, ``sweep``, data
selection, bootstrapping, proxy-tuning) calls it, so a setting means the same thing
everywhere. Step 4 is ``fit_student``.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from w2s import data as data_mod
from w2s.metrics import accuracy, agreement_on_weak_errors, pgr, summarize  # noqa: F401 (re-exported)
from w2s.settings import fast_mode
from w2s.registry import (DEFAULT_TRACK, LM_MODELS, LOSSES, MODES, STRONG_MODELS, TRACKS,
                          WEAK_MODELS)


@dataclass(frozen=True)
class Config:
    """One weak-to-strong experiment. Unset fields (None, "default") take the track's
    defaults when the Config is built, so a Config always says what will be used.

    ``pretrain="none"`` is the random-init contrast; it changes nothing else (``mode``,
    ``lr`` and ``epochs`` stay as given), so a probe on a frozen random body is allowed."""
    track: str = DEFAULT_TRACK     # lm | vision
    weak: str | None = None
    strong: str | None = None
    loss: object = "xent"          # xent | conf | kd, or a callable loss(logits, labels, step_frac)
    pretrain: str = "default"      # the track's pre-training (next-token | simclr) or none
    mode: str = "probe"            # probe (frozen body) | finetune (all weights)
    epochs: int | None = None
    lr: float | None = None
    hard_labels: bool = False      # train on argmax weak labels instead of soft ones
    alpha_max: float = 0.5
    warmup_frac: float = 0.2
    early_stopping: bool = False
    dataset: str | None = None

    def __post_init__(self):
        if self.track not in TRACKS:
            raise ValueError(f"unknown track {self.track!r}; choose one of {sorted(TRACKS)}")
        track = TRACKS[self.track]
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r}; choose 'probe' or 'finetune'")
        recipe = track.recipe[self.mode]
        resolved = dict(weak=self.weak or track.weak, strong=self.strong or track.strong,
                        dataset=self.dataset or track.dataset,
                        pretrain=track.pretrain if self.pretrain == "default" else self.pretrain,
                        epochs=recipe["epochs"] if self.epochs is None else int(self.epochs),
                        lr=recipe["lr"] if self.lr is None else float(self.lr))
        for key, value in resolved.items():
            object.__setattr__(self, key, value)
        if self.pretrain not in (track.pretrain, "none"):
            raise ValueError(f"unknown pretrain {self.pretrain!r} for the {self.track} track; "
                             f"choose '{track.pretrain}' or 'none'")
        if self.dataset not in track.datasets:
            raise ValueError(f"data set {self.dataset!r} is not on the {self.track} track; "
                             f"choose one of {list(track.datasets)}")
        weak = WEAK_MODELS.get(self.weak)
        if weak is None or weak.track != self.track:
            raise ValueError(f"unknown weak model {self.weak!r} for the {self.track} track; "
                             f"choose one of {track.weak_names}")
        if self.strong not in track.strong_order:
            raise ValueError(f"unknown strong model {self.strong!r} for the {self.track} track; "
                             f"choose one of {track.strong_names}")
        if not callable(self.loss) and self.loss not in LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}; choose one of {LOSSES} or pass a "
                             "callable loss(logits, targets, step_frac)")
        if self.epochs < 1 or not self.lr > 0:
            raise ValueError(f"epochs must be >= 1 and lr > 0, got {self.epochs} and {self.lr}")
        if not 0.0 <= self.alpha_max <= 1.0:
            raise ValueError(f"alpha_max must be in [0, 1], got {self.alpha_max}")

    def effective_epochs(self) -> int:
        return max(3, self.epochs // 10) if fast_mode() else self.epochs

    def train_options(self, seed: int):
        from w2s.train import TrainOptions

        return TrainOptions(mode=self.mode, epochs=self.effective_epochs(), lr=self.lr, seed=seed)

    def make_loss(self):
        from w2s.losses import make_loss

        return make_loss(self.loss, alpha_max=self.alpha_max, warmup_frac=self.warmup_frac)

    def as_dict(self) -> dict:
        """What was used, for JSON: the resolved fields plus the epochs actually trained."""
        out = asdict(self)
        if callable(self.loss):
            out["loss"] = getattr(self.loss, "name", type(self.loss).__name__)
        out["epochs_trained"] = self.effective_epochs()
        out["fast"] = fast_mode()
        return out


@dataclass
class Result:
    """What one run measured (accuracies are fractions in [0, 1]; PGR NaN when undefined)."""
    config: Config
    seed: int
    p_weak: float
    p_ceiling: float
    p_weak_to_strong: float
    pgr: float
    agreement_on_weak_errors: float
    seconds: float
    history: dict = field(default_factory=dict, repr=False)


def safe_pgr(p_weak: float, p_weak_to_strong: float, p_ceiling: float) -> float:
    """PGR, or NaN when P_ceiling <= P_weak (no gap: undefined, reported as such)."""
    return pgr(p_weak, p_weak_to_strong, p_ceiling) if p_ceiling > p_weak else float("nan")


# ---------------------------------------------------------------- the students

def make_student(config: Config, split: data_mod.Split, seed: int = 0):
    """The strong student: pretrained body (or random init for ``pretrain='none'``) + new head."""
    import torch

    from w2s.models import StrongModel
    from w2s.pretrain import load_body

    torch.manual_seed(seed)
    n_features = None if config.strong in LM_MODELS else split.x_a.shape[1]
    model = StrongModel(config.strong, n_features, split.n_classes)
    if config.pretrain != "none":
        model.body = load_body(split.name, config.strong, n_features)
    return model


def _features(config: Config, model, x, seed: int, cache: dict | None):
    """The frozen body's features of ``x`` in probe mode, computed once per cache."""
    from w2s.train import encode

    if config.mode != "probe":
        return None
    if cache is None:
        return encode(model.body, x)
    init = seed if config.pretrain == "none" else None  # a random body differs per seed
    key = ("features", config.dataset, config.strong, config.pretrain, init, x.shape,
           hashlib.sha1(np.ascontiguousarray(x).tobytes()).hexdigest())
    if key not in cache:
        cache[key] = encode(model.body, x)
    return cache[key]


def fit_student(config: Config, split, targets, seed, *, val=None, record_history=False,
                progress=None, cache=None):
    """Train a fresh student of ``config`` on ``split.x_b`` with ``targets``; returns
    ``(model, History)``. ``val=(x, weak_labels)`` turns on early stopping."""
    from w2s.train import train_student

    model = make_student(config, split, seed)
    return train_student(
        model, split.x_b, targets, config.make_loss(), config.train_options(seed),
        eval_data=(split.x_test, split.y_test) if record_history else None,
        val_data=val, features=_features(config, model, split.x_b, seed, cache),
        progress=progress)


def probs_on_test(config: Config, model, split, seed: int, cache: dict | None = None) -> np.ndarray:
    """The student's probabilities on the test set (frozen features reused in probe mode)."""
    from w2s.train import head_proba, predict_proba

    features = _features(config, model, split.x_test, seed, cache)
    return head_proba(model, features) if features is not None else predict_proba(model, split.x_test)


# ---------------------------------------------------------------- the protocol

@dataclass
class Protocol:
    """Steps 1-3 and 5 for one (config, seed): what every runner builds on.

    ``split.x_b`` is the transfer set the students train on: all of B, or B without the
    fifth held out (``val``, weak-labelled) for early stopping. The ceiling trains on the
    same examples with their ground truth."""
    config: Config
    seed: int
    split: data_mod.Split
    weak_model: object
    weak_test_pred: np.ndarray
    p_weak: float
    weak_labels: np.ndarray
    val: tuple | None
    p_ceiling: float | None


def train_weak(config: Config, split: data_mod.Split, seed: int):
    from w2s.models import WeakModel

    return WeakModel(config.weak, seed=seed).fit(split.x_a, split.y_a)


def protocol(config: Config, seed: int, *, ceiling: bool = True, cache: dict | None = None,
             progress=None) -> Protocol:
    """Split, train the weak model on A (-> P_weak), label B, and (unless ``ceiling`` is
    False) train the ceiling on B's ground truth (-> P_ceiling).

    ``cache`` (a dict the caller owns) lets a sweep reuse a weak model, a ceiling and frozen
    features across cells; every cached value is exactly what would be recomputed."""
    from w2s.train import one_hot

    cache = {} if cache is None else cache
    split = data_mod.load(config.dataset, seed)
    weak_key = ("weak", config.dataset, config.weak, seed)
    if weak_key not in cache:
        weak_model = train_weak(config, split, seed)
        cache[weak_key] = (weak_model, weak_model.predict(split.x_test),
                           weak_model.predict_proba(split.x_b))
    weak_model, weak_test_pred, weak_labels = cache[weak_key]
    p_weak = accuracy(weak_test_pred, split.y_test)
    if config.hard_labels:
        weak_labels = one_hot(weak_labels.argmax(1), split.n_classes)
    val = None
    if config.early_stopping:
        # hold out a fifth of B, labelled by the weak model, to choose the stopping epoch
        n_val = len(split.x_b) // 5
        val = (split.x_b[:n_val], weak_labels[:n_val])
        split = replace(split, x_b=split.x_b[n_val:], y_b=split.y_b[n_val:])
        weak_labels = weak_labels[n_val:]

    p_ceiling = None
    if ceiling:
        ceiling_cfg = replace(config, loss="xent", hard_labels=False, alpha_max=0.5)
        key = ("ceiling", config.dataset, config.strong, config.pretrain, config.mode,
               config.lr, config.effective_epochs(), config.early_stopping, seed)
        if key not in cache:
            model, _ = fit_student(ceiling_cfg, split, one_hot(split.y_b, split.n_classes),
                                   seed, cache=cache, progress=progress)
            cache[key] = accuracy(probs_on_test(ceiling_cfg, model, split, seed, cache).argmax(1),
                                  split.y_test)
        p_ceiling = cache[key]
    return Protocol(config, seed, split, weak_model, weak_test_pred, p_weak, weak_labels, val,
                    p_ceiling)


def run_experiment(config: Config = Config(), seed: int = 0, *, record_history=False,
                   progress=None, cache: dict | None = None) -> Result:
    """Run the protocol once for ``config`` and ``seed``."""
    start = time.perf_counter()
    cache = {} if cache is None else cache
    proto = protocol(config, seed, cache=cache, progress=progress)
    student, history = fit_student(config, proto.split, proto.weak_labels, seed, val=proto.val,
                                   record_history=record_history, progress=progress, cache=cache)
    student_pred = probs_on_test(config, student, proto.split, seed, cache).argmax(1)
    p_w2s = accuracy(student_pred, proto.split.y_test)
    return Result(config, seed, proto.p_weak, proto.p_ceiling, p_w2s,
                  safe_pgr(proto.p_weak, p_w2s, proto.p_ceiling),
                  agreement_on_weak_errors(student_pred, proto.weak_test_pred, proto.split.y_test),
                  time.perf_counter() - start,
                  {"epochs": history.epochs, "eval_accuracy": history.eval_accuracy,
                   "train_loss": history.train_loss, "best_epoch": history.best_epoch})


# ---------------------------------------------------------------- many seeds, many cells

METRICS = ("p_weak", "p_ceiling", "p_weak_to_strong", "pgr", "agreement_on_weak_errors")


def _seed_list(seeds) -> list[int]:
    return list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]


def run_seeds(config: Config = Config(), seeds=5, progress=False) -> dict:
    """Run ``seeds`` seeds (an int n means 0..n-1); returns the contract's summary dict."""
    from tqdm.auto import tqdm

    seeds = _seed_list(seeds)
    start = time.perf_counter()
    cache: dict = {}
    results = [run_experiment(config, seed, cache=cache)
               for seed in tqdm(seeds, desc=f"{config.weak} -> {config.strong}", unit="seed",
                                disable=not progress)]
    out = {m: summarize([getattr(r, m) for r in results]) for m in METRICS}
    out["seconds"] = time.perf_counter() - start
    out["config"] = {**config.as_dict(), "seeds": seeds}
    out["results"] = results
    return out


def sweep(weak=None, strong=None, losses=("xent", "conf"), seeds=5, base: Config = Config(),
          progress=False) -> dict:
    """Every supervisor x student x loss of ``base``'s track; the weak model, the ceiling
    and the frozen features are computed once per seed and reused across cells."""
    from tqdm.auto import tqdm

    track = TRACKS[base.track]
    weak = list(weak or track.weak_order)
    strong = list(strong or track.strong_order)
    for name in weak:
        replace(base, weak=name)          # refuses a name from another track, with a message
    for name in strong:
        replace(base, strong=name)
    seeds = _seed_list(seeds)
    start = time.perf_counter()
    bar = tqdm(total=len(strong) * len(seeds) * len(weak) * len(losses), unit="run",
               desc="sweep", disable=not progress)
    per_cell: dict = {}
    cache: dict = {}
    for seed in seeds:
        for strong_name in strong:
            for weak_name in weak:
                for loss in losses:
                    bar.set_postfix_str(f"{weak_name}->{strong_name} {loss}")
                    cfg = replace(base, weak=weak_name, strong=strong_name, loss=loss)
                    per_cell.setdefault((weak_name, strong_name, loss), []).append(
                        run_experiment(cfg, seed, cache=cache))
                    bar.update(1)
    bar.close()
    rows = []
    for (weak_name, strong_name, loss), results in per_cell.items():
        row = {"weak": weak_name, "strong": strong_name, "loss": loss}
        row.update({m: summarize([getattr(r, m) for r in results]) for m in METRICS})
        rows.append(row)
    return {"track": base.track, "weak_order": weak, "strong_order": strong,
            "losses": list(losses), "seeds": seeds, "rows": rows,
            "seconds": time.perf_counter() - start, "config": base.as_dict()}
