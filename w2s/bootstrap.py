"""Bootstrapping through intermediate students when the gap is large. Introduced in lesson 04.

Burns et al. (2023, Sec. 4.3.1) ask whether a long jump from a weak supervisor to a much
stronger student goes better in hops: train a slightly stronger model on the weak labels,
let *it* label the data for the next model, and so on (weak -> M1 -> M2 -> ... -> strong).

The paper draws fresh examples for every hop. Here the transfer half B is all we have, so an
intermediate relabels B in one of two ways:

- ``folds=1`` (in-sample): it is trained on all of B and then labels those same examples;
- ``folds=k`` (cross-fitted): B is cut into k folds and each fold is labelled by a model
  trained on the other k-1 folds, so no label comes from a model that saw that example —
  the nearest thing to fresh data without new examples, paid for with less training data.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

from w2s import data as data_mod
from w2s.experiment import Config, fit_student, protocol
from w2s.metrics import accuracy, pgr, summarize
from w2s.registry import TRACKS


# The vision track's weakest systematic supervisor: the largest gap of that track.
DEFAULT_CONFIG = Config(track="vision", weak="pca-3")


@dataclass
class BootstrapResult:
    """One seed: the strong student trained directly vs through the intermediates."""
    config: Config
    seed: int
    via: tuple[str, ...]
    folds: int
    p_weak: float
    p_ceiling: float
    p_direct: float                 # config.strong trained on the weak labels
    p_bootstrap: float              # config.strong trained on the last intermediate's labels
    stage_accuracy: list[float]     # test accuracy of each intermediate, in order
    seconds: float

    def _pgr(self, p_student: float) -> float:
        if self.p_ceiling <= self.p_weak:
            return float("nan")
        return pgr(self.p_weak, p_student, self.p_ceiling)

    @property
    def pgr_direct(self) -> float:
        return self._pgr(self.p_direct)

    @property
    def pgr_bootstrap(self) -> float:
        return self._pgr(self.p_bootstrap)


def _test_accuracy(model, split) -> float:
    from w2s.train import predict_proba

    return accuracy(predict_proba(model, split.x_test).argmax(1), split.y_test)


def relabel(config: Config, split: data_mod.Split, labels: np.ndarray, seed: int,
            folds: int = 1) -> tuple[np.ndarray, float]:
    """Train student ``config.strong`` on B with ``labels``; return its soft labels for B and
    its test accuracy (the mean over fold models when ``folds > 1``)."""
    from w2s.train import predict_proba

    if folds == 1:
        model, _ = fit_student(config, split, labels, seed)
        return predict_proba(model, split.x_b), _test_accuracy(model, split)
    order = np.random.default_rng([seed, folds]).permutation(len(split.x_b))
    new_labels = np.zeros_like(labels)
    accuracies = []
    for held_out in np.array_split(order, folds):
        train_idx = np.setdiff1d(order, held_out)
        part = replace(split, x_b=split.x_b[train_idx], y_b=split.y_b[train_idx])
        model, _ = fit_student(config, part, labels[train_idx], seed)
        new_labels[held_out] = predict_proba(model, split.x_b[held_out])
        accuracies.append(_test_accuracy(model, split))
    return new_labels, float(np.mean(accuracies))


def _check(config: Config, via, folds) -> tuple[str, ...]:
    via = tuple(via)
    students = TRACKS[config.track].strong_names
    unknown = [name for name in via if name not in students]
    if unknown:
        raise ValueError(f"unknown intermediate student(s) {unknown}; "
                         f"choose from {students}")
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 1:
        raise ValueError(f"folds must be a whole number >= 1, got {folds!r}")
    if config.early_stopping or config.hard_labels:
        raise ValueError("bootstrapping supports neither early_stopping nor hard_labels; "
                         "switch them off in the Config")
    return via


def compare_chains(config: Config = DEFAULT_CONFIG, chains=None, seed: int = 0
                   ) -> dict[str, BootstrapResult]:
    """Several chains for one seed, sharing the weak model, the ceiling and the direct student.

    ``chains`` maps a label to ``(via, folds)``, e.g. ``{"via medium": (("mlp-medium",), 1)}``.
    Every model uses ``config``'s loss, pre-training, mode and epochs; only the student
    changes along a chain. Labels pass between hops as soft probabilities."""
    chains = {"via mlp-medium": (("mlp-medium",), 1)} if chains is None else dict(chains)
    checked = {label: (_check(config, via, folds), folds) for label, (via, folds) in chains.items()}
    start = time.perf_counter()
    split = data_mod.load(config.dataset, seed)
    for label, (_, folds) in checked.items():
        if folds > len(split.x_b):
            raise ValueError(f"{label}: folds={folds} is more than the {len(split.x_b)} "
                             "examples of B")
    proto = protocol(config, seed)
    p_weak, p_ceiling, weak_labels = proto.p_weak, proto.p_ceiling, proto.weak_labels
    p_direct = _test_accuracy(fit_student(config, split, weak_labels, seed)[0], split)
    shared = time.perf_counter() - start

    results = {}
    for label, (via, folds) in checked.items():
        start = time.perf_counter()
        labels, stage_accuracy = weak_labels, []
        for name in via:
            labels, acc = relabel(replace(config, strong=name), split, labels, seed, folds)
            stage_accuracy.append(acc)
        final_model, _ = fit_student(config, split, labels, seed)
        results[label] = BootstrapResult(config, seed, via, folds, p_weak, p_ceiling, p_direct,
                                         _test_accuracy(final_model, split), stage_accuracy,
                                         shared + time.perf_counter() - start)
    return results


def run_bootstrap(config: Config = DEFAULT_CONFIG, via=("mlp-medium",), seed: int = 0,
                  folds: int = 1) -> BootstrapResult:
    """weak -> via[0] -> ... -> config.strong, against weak -> config.strong directly."""
    return compare_chains(config, {"chain": (via, folds)}, seed)["chain"]


def bootstrap_seeds(config: Config = DEFAULT_CONFIG, chains=None, seeds=3,
                    progress: bool = False) -> dict[str, list[BootstrapResult]]:
    """``compare_chains`` for several seeds (an int n means 0..n-1), with a progress bar.
    Returns ``label -> [one BootstrapResult per seed]``."""
    from tqdm.auto import tqdm

    seeds = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    out: dict[str, list[BootstrapResult]] = {}
    for seed in tqdm(seeds, desc=f"bootstrapping from {config.weak} to {config.strong}",
                     unit="seed", disable=not progress):
        for label, result in compare_chains(config, chains, seed).items():
            out.setdefault(label, []).append(result)
    return out


def summarize_bootstrap(results: list[BootstrapResult]) -> dict:
    """Over seeds, ``w2s.metrics.summarize`` of the direct PGR, the bootstrapped PGR and their
    paired gain (``{"mean", "std", "per_seed"}`` each), plus how many seeds the chain improved."""
    direct = np.array([r.pgr_direct for r in results])
    boot = np.array([r.pgr_bootstrap for r in results])
    gain = boot - direct
    return {"pgr_direct": summarize(direct), "pgr_bootstrap": summarize(boot),
            "gain": summarize(gain), "seeds_improved": int(np.sum(gain > 0)),
            "seeds": len(results)}
