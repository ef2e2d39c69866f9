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
from w2s.train import one_hot, predict_proba, train_student

from conftest import BIN, ROOT


def test_fast_run_has_sane_structure(fast):
    r = run_experiment(Config(), seed=0)
    for value in (r.p_weak, r.p_ceiling, r.p_weak_to_strong):
        assert 0.0 <= value <= 1.0
    assert r.p_ceiling > r.p_weak + 0.1, "the pretrained student should clearly beat the weak model"
    assert r.pgr == pytest.approx((r.p_weak_to_strong - r.p_weak) / (r.p_ceiling - r.p_weak))
    assert 0.0 <= r.agreement_on_weak_errors <= 1.0


def test_runs_are_repeatable(fast):
    a, b = run_experiment(Config(), seed=1), run_experiment(Config(), seed=1)
    assert (a.p_weak, a.p_ceiling, a.p_weak_to_strong) == (b.p_weak, b.p_ceiling, b.p_weak_to_strong)


def test_run_seeds_summary_matches_per_seed_values(fast):
    out = run_seeds(Config(loss="conf"), seeds=2)
    for m in experiment.METRICS:
        assert len(out[m]["per_seed"]) == 2
        assert out[m]["mean"] == pytest.approx(np.mean(out[m]["per_seed"]))
    assert out["config"]["loss"] == "conf"


def test_training_reduces_the_loss_and_records_history():
    split = load("digits", 0)
    model = models.StrongModel("mlp-small", 64, 10)
    model, hist = train_student(model, split.x_b, one_hot(split.y_b, 10), mode="finetune",
                                epochs=5, x_eval=split.x_test, y_eval=split.y_test)
    assert len(hist.eval_accuracy) == 5 and hist.train_loss[-1] < hist.train_loss[0]


def test_probe_mode_leaves_the_body_untouched():
    split = load("digits", 0)
    model = models.StrongModel("mlp-small", 64, 10)
    before = [p.clone() for p in model.body.parameters()]
    train_student(model, split.x_b, one_hot(split.y_b, 10), mode="probe", epochs=2)
    assert all(torch.equal(a, b) for a, b in zip(before, model.body.parameters()))


def test_early_stopping_keeps_the_best_weak_validation_epoch(fast):
    r = run_experiment(Config(early_stopping=True, pretrain="none", epochs=60), seed=0)
    assert r.history["best_epoch"] is not None
    assert 1 <= r.history["best_epoch"] <= Config(epochs=60).effective_epochs()


def test_from_scratch_student_is_not_pretrained():
    split = load("digits", 0)
    a = experiment.make_student(Config(pretrain="none"), split)
    b = experiment.make_student(Config(), split)
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


def test_weak_family_gets_stronger_in_order():
    split = load("digits", 0)
    accs = [float((models.WeakModel(n).fit(split.x_a, split.y_a).predict(split.x_test)
                   == split.y_test).mean()) for n in models.WEAK_ORDER]
    assert accs == sorted(accs) and accs[0] < accs[-1] - 0.1


def test_unknown_options_are_clear_errors():
    with pytest.raises(ValueError, match="pretrain"):
        experiment.make_student(Config(pretrain="imagenet"), load("digits", 0))
    with pytest.raises(ValueError, match="loss"):
        train_student(models.StrongModel("mlp-small", 64, 10), np.zeros((4, 64)),
                      np.full((4, 10), 0.1), loss="mse")


def test_training_leaves_torch_threads_as_they_were():
    before = torch.get_num_threads()
    split = load("digits", 0)
    train_student(models.StrongModel("mlp-small", 64, 10), split.x_b[:50],
                  one_hot(split.y_b[:50], 10), epochs=1)
    assert torch.get_num_threads() == before


def _w2s(*args, env_extra=None, **kw):
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["PATH"] = "/usr/bin:/bin"  # no activated venv
    env.update(env_extra or {})
    return subprocess.run([str(BIN / "w2s"), *args], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=600, **kw)


def test_cli_run_writes_the_contract_json(tmp_path):
    out = tmp_path / "run.json"
    proc = _w2s("run", "--seeds", "2", "--json", str(out), env_extra={"W2S_FAST": "1"})
    assert proc.returncode == 0, proc.stderr
    assert "PGR" in proc.stdout and "P_ceiling" in proc.stdout
    result = json.loads(out.read_text())
    for key in ("p_weak", "p_ceiling", "p_weak_to_strong", "pgr"):
        stat = result[key]
        assert set(stat) >= {"mean", "std", "per_seed"} and len(stat["per_seed"]) == 2
        if key != "pgr":
            assert all(0 <= v <= 1 for v in stat["per_seed"])
    assert isinstance(result["seconds"], float) and result["config"]["loss"] == "xent"


def test_cli_sweep_writes_ordered_rows(tmp_path):
    out = tmp_path / "sweep.json"
    proc = _w2s("sweep", "--seeds", "1", "--weak", "noisy-1.2,noisy-0.5", "--strong",
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
    (("sweep", "--weak", "gpt2"), "unknown weak gpt2"),
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
