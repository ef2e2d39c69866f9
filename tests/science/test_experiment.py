"""The protocol end to end (W2S_FAST=1), the models, training and the CLI contract."""

import json
import math
import os
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
import torch

from w2s import experiment, models
from w2s.data import load
from w2s.experiment import Config, run_experiment, run_seeds
from w2s.train import TrainOptions, encode, one_hot, predict_proba, train_student

from conftest import BIN, ROOT


VISION = Config(track="vision")


def test_fast_run_has_sane_structure(fast):
    r = run_experiment(VISION, seed=0)
    for value in (r.p_weak, r.p_ceiling, r.p_weak_to_strong):
        assert 0.0 <= value <= 1.0
    assert r.p_ceiling > r.p_weak + 0.1, "the pretrained student should clearly beat the weak model"
    assert r.pgr == pytest.approx((r.p_weak_to_strong - r.p_weak) / (r.p_ceiling - r.p_weak))
    assert 0.0 <= r.agreement_on_weak_errors <= 1.0


def test_runs_are_repeatable(fast):
    a, b = run_experiment(VISION, seed=1), run_experiment(VISION, seed=1)
    assert (a.p_weak, a.p_ceiling, a.p_weak_to_strong) == (b.p_weak, b.p_ceiling, b.p_weak_to_strong)


def test_run_seeds_summary_matches_per_seed_values(fast):
    out = run_seeds(Config(track="vision", loss="conf"), seeds=2)
    for m in experiment.METRICS:
        assert len(out[m]["per_seed"]) == 2
        assert out[m]["mean"] == pytest.approx(np.mean(out[m]["per_seed"]))
    assert out["config"]["loss"] == "conf"


def test_config_resolves_the_track_defaults_and_records_them():
    lm = Config()
    assert (lm.track, lm.dataset, lm.pretrain, lm.weak, lm.strong) == (
        "lm", "lm", "next-token", "lm-s", "lm-l")
    probe, finetune = Config(mode="probe"), Config(mode="finetune")
    # --pretrain none changes nothing but the initialisation
    for cfg in (probe, finetune):
        none = Config(mode=cfg.mode, pretrain="none")
        assert (none.mode, none.lr, none.epochs) == (cfg.mode, cfg.lr, cfg.epochs)
        assert none.pretrain == "none"
    assert Config(track="vision").pretrain == "simclr"
    assert Config(lr=0.5).as_dict()["lr"] == 0.5


@pytest.mark.parametrize("kwargs, message", [
    (dict(pretrain="imagenet"), "pretrain"),
    (dict(pretrain="simclr"), "simclr"),                       # the other track's pre-training
    (dict(track="vision", weak="lm-s"), "weak model"),
    (dict(track="lm", strong="mlp-large"), "strong model"),
    (dict(track="lm", dataset="digits"), "data set"),
    (dict(track="text"), "track"),
    (dict(mode="frozen"), "mode"),
    (dict(loss="mse"), "loss"),
])
def test_nonsense_configs_are_refused_with_the_choices(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Config(**kwargs)


@pytest.mark.parametrize("early_stopping", [False, True])
def test_run_and_sweep_agree_on_every_metric(fast, early_stopping):
    base = Config(track="vision", early_stopping=early_stopping)
    out = experiment.sweep(["pca-3", "probe-mlp-small"], ["mlp-small"], ["xent", "conf"],
                           seeds=[1], base=base)
    for row in out["rows"]:
        alone = run_experiment(replace(base, weak=row["weak"], strong=row["strong"],
                                       loss=row["loss"]), seed=1)
        for m in experiment.METRICS:
            expected = experiment.summarize([getattr(alone, m)])["per_seed"]
            assert row[m]["per_seed"] == pytest.approx(expected), (row["weak"], m)


def test_lm_track_runs_end_to_end(fast):
    r = run_experiment(Config(strong="lm-m"), seed=0)
    assert 0.5 < r.p_weak < 1.0 and 0.5 < r.p_ceiling <= 1.0
    assert r.pgr == pytest.approx(experiment.safe_pgr(r.p_weak, r.p_weak_to_strong, r.p_ceiling),
                                  nan_ok=True)


def test_lm_weak_model_is_deterministic(fast):
    split = load("lm", 0)
    weak = models.WeakModel("lm-s", seed=0).fit(split.x_a, split.y_a)
    first = weak.predict_proba(split.x_test[:200])
    assert np.array_equal(first, weak.predict_proba(split.x_test[:200]))


def test_undefined_pgr_is_nan_in_results_and_none_in_summaries():
    assert math.isnan(experiment.safe_pgr(0.8, 0.7, 0.75))
    stat = experiment.summarize([0.2, float("nan"), 0.4])
    assert stat["per_seed"] == [0.2, None, 0.4] and stat["mean"] == pytest.approx(0.3)
    assert experiment.summarize([float("nan")])["mean"] is None


def test_training_reduces_the_loss_and_records_history():
    split = load("digits", 0)
    model = models.StrongModel("mlp-small", 64, 10)
    model, hist = train_student(model, split.x_b, one_hot(split.y_b, 10), "xent",
                                TrainOptions(mode="finetune", epochs=5, lr=1e-3),
                                eval_data=(split.x_test, split.y_test))
    assert len(hist.eval_accuracy) == 5 and hist.train_loss[-1] < hist.train_loss[0]


def test_probe_mode_leaves_the_body_untouched():
    split = load("digits", 0)
    model = models.StrongModel("mlp-small", 64, 10)
    before = [p.clone() for p in model.body.parameters()]
    train_student(model, split.x_b, one_hot(split.y_b, 10), "xent", TrainOptions(epochs=2))
    assert all(torch.equal(a, b) for a, b in zip(before, model.body.parameters()))


def test_probe_on_precomputed_features_equals_probe_on_inputs():
    split = load("digits", 0)
    trained = []
    for features in (None, "given"):
        torch.manual_seed(0)
        model = models.StrongModel("mlp-small", 64, 10)
        given = encode(model.body, split.x_b) if features else None
        model, _ = train_student(model, split.x_b, one_hot(split.y_b, 10), "conf",
                                 TrainOptions(epochs=2), features=given)
        trained.append(predict_proba(model, split.x_test))
    assert np.array_equal(*trained)


def test_early_stopping_keeps_the_best_weak_validation_epoch(fast):
    cfg = Config(track="vision", early_stopping=True, pretrain="none", mode="finetune", epochs=60)
    r = run_experiment(cfg, seed=0)
    assert r.history["best_epoch"] is not None
    assert 1 <= r.history["best_epoch"] <= cfg.effective_epochs()


def test_from_scratch_student_is_not_pretrained():
    split = load("digits", 0)
    a = experiment.make_student(Config(track="vision", pretrain="none"), split)
    b = experiment.make_student(VISION, split)
    assert not torch.equal(a.body[0].weight, b.body[0].weight)


def test_weak_model_views():
    split = load("digits", 0)
    assert models.WeakModel("downsample-4").view(split.x_a).shape == (len(split.x_a), 16)
    w = models.WeakModel("pca-3").fit(split.x_a, split.y_a)
    assert w.predict_proba(split.x_test).shape == (len(split.x_test), 10)
    with pytest.raises(RuntimeError, match="fit"):
        models.WeakModel("noisy-0.8").predict(split.x_test)
    with pytest.raises(ValueError, match="choose one of"):
        models.WeakModel("gpt-2")


def test_systematic_supervisors_are_deterministic():
    split = load("digits", 0)
    for name in models.WEAK_ORDER:
        w = models.WeakModel(name).fit(split.x_a, split.y_a)
        assert np.array_equal(w.predict_proba(split.x_test), w.predict_proba(split.x_test)), name


def test_unknown_loss_is_a_clear_error():
    with pytest.raises(ValueError, match="loss"):
        train_student(models.StrongModel("mlp-small", 64, 10), np.zeros((4, 64)),
                      np.full((4, 10), 0.1), loss="mse")


def test_training_leaves_torch_threads_as_they_were():
    before = torch.get_num_threads()
    split = load("digits", 0)
    train_student(models.StrongModel("mlp-small", 64, 10), split.x_b[:50],
                  one_hot(split.y_b[:50], 10), "xent", TrainOptions(epochs=1))
    assert torch.get_num_threads() == before


def _w2s(*args, env_extra=None, **kw):
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["PATH"] = "/usr/bin:/bin"  # no activated venv
    env.update(env_extra or {})
    return subprocess.run([str(BIN / "w2s"), *args], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=600, **kw)


def test_cli_run_writes_the_contract_json(tmp_path):
    out = tmp_path / "run.json"
    proc = _w2s("run", "--track", "vision", "--seeds", "2", "--json", str(out),
                env_extra={"W2S_FAST": "1"})
    assert proc.returncode == 0, proc.stderr
    assert "PGR" in proc.stdout and "P_ceiling" in proc.stdout
    result = json.loads(out.read_text())
    for key in ("p_weak", "p_ceiling", "p_weak_to_strong", "pgr"):
        stat = result[key]
        assert set(stat) >= {"mean", "std", "per_seed"} and len(stat["per_seed"]) == 2
        if key != "pgr":
            assert all(0 <= v <= 1 for v in stat["per_seed"])
    assert isinstance(result["seconds"], float)
    config = result["config"]
    assert (config["loss"], config["track"], config["mode"], config["pretrain"]) == (
        "xent", "vision", "probe", "simclr")
    assert config["weak"] == "probe-mlp-small" and config["lr"] > 0 and config["epochs"] >= 1


def test_cli_sweep_writes_ordered_rows(tmp_path):
    out = tmp_path / "sweep.json"
    proc = _w2s("sweep", "--track", "vision", "--seeds", "1", "--weak", "noisy-1.2,noisy-0.5", "--strong",
                "mlp-small,mlp-large", "--losses", "xent,conf", "--json", str(out),
                env_extra={"W2S_FAST": "1"})
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    assert result["weak_order"] == ["noisy-1.2", "noisy-0.5"]
    assert result["strong_order"] == ["mlp-small", "mlp-large"]
    assert len(result["rows"]) == 8
    row = result["rows"][0]
    assert set(row) >= {"weak", "strong", "loss", "p_weak", "p_ceiling", "p_weak_to_strong",
                        "pgr", "agreement_on_weak_errors"}
    assert set(row["pgr"]) == {"mean", "std", "per_seed"}


@pytest.mark.parametrize("args, message", [
    (("sweep", "--weak", "gpt2"), "unknown weak model 'gpt2'"),
    (("run", "--track", "lm", "--weak", "noisy-0.8"), "for the lm track"),
    (("run", "--track", "vision", "--pretrain", "next-token"), "choose 'simclr' or 'none'"),
    (("run", "--alpha-max", "0.7"), "only affects the confidence loss"),
    (("run", "--seeds", "0"), "at least 1"),
    (("run", "--json", "/proc/nope/x.json", "--seeds", "1"), "cannot write"),
])
def test_cli_bad_input_gets_a_clear_message(args, message):
    proc = _w2s(*args, env_extra={"W2S_FAST": "1"})
    assert proc.returncode != 0
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_import_has_no_side_effects():
    code = ("import sys, time; t = time.perf_counter(); import w2s; "
            "print(time.perf_counter() - t); "
            "print(any(m == 'torch' or m.startswith('torch.') for m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    seconds, torch_loaded = proc.stdout.split()
    assert torch_loaded == "False"
    assert proc.stderr == ""
