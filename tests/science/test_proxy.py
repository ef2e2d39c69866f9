"""w2s.proxy: proxy-tuning arithmetic, checked by hand and against torch.softmax."""

import numpy as np
import pytest
import torch

from w2s.proxy import proxy_tune

LARGE = np.array([[0.7, 0.3], [0.5, 0.5]])
TUNED = np.array([[0.2, 0.8], [0.9, 0.1]])
BASE = np.array([[0.5, 0.5], [0.5, 0.5]])


def test_hand_worked_case():
    # row 0: 0.7 * 0.2 / 0.5 = 0.28 and 0.3 * 0.8 / 0.5 = 0.48 -> 0.28 / 0.76
    out = proxy_tune(LARGE, TUNED, BASE)
    assert out[0, 0] == pytest.approx(0.28 / 0.76)
    assert out[1, 0] == pytest.approx(0.9)          # a uniform large model follows the tuning
    assert np.allclose(out.sum(1), 1.0)


def test_strength_zero_and_no_tuning_give_the_large_model_back():
    assert np.allclose(proxy_tune(LARGE, TUNED, BASE, strength=0), LARGE)
    assert np.allclose(proxy_tune(LARGE, BASE, BASE, strength=3), LARGE)


def test_matches_torch_softmax_on_random_data():
    rng = np.random.default_rng(0)
    large, tuned, base = (rng.dirichlet(np.ones(5), size=40) for _ in range(3))
    for strength in (0.5, 1.0, 2.5, -1.0):
        ref = torch.softmax(torch.tensor(np.log(large) + strength * (np.log(tuned) - np.log(base))),
                            dim=1).numpy()
        assert np.allclose(proxy_tune(large, tuned, base, strength), ref, atol=1e-9)


def test_hard_zeros_stay_finite():
    out = proxy_tune(np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]]), np.array([[0.5, 0.5]]))
    assert np.isfinite(out).all() and np.allclose(out.sum(1), 1.0)


def test_bad_inputs():
    with pytest.raises(ValueError, match="same shape"):
        proxy_tune(LARGE, TUNED[:1], BASE)
    with pytest.raises(ValueError, match="not logits"):
        proxy_tune(LARGE * 4, TUNED, BASE)
    with pytest.raises(ValueError, match="strength"):
        proxy_tune(LARGE, TUNED, BASE, strength="strong")
    with pytest.raises(ValueError, match="strength"):
        proxy_tune(LARGE, TUNED, BASE, strength=float("inf"))


def test_run_proxy_tuning_end_to_end(monkeypatch):
    """A real (fast) run: every model is scored, the proxy's accuracy follows from the kept
    probabilities, and gap_closed is PGR between the large base and the truly tuned model."""
    monkeypatch.setenv("W2S_FAST", "1")
    from w2s.metrics import pgr
    from w2s.proxy import run_proxy_tuning

    rows = run_proxy_tuning(seed=0, n_gold=(150, 300), keep_probs=True)
    assert [r["n_gold"] for r in rows] == [150, 300]
    for r in rows:
        p = r["probs"]
        for name in ("large_base", "small_base", "small_tuned", "proxy", "large_tuned"):
            assert r[name] == pytest.approx((p[name].argmax(1) == p["y_test"]).mean())
        assert np.allclose(p["proxy"], proxy_tune(p["large_base"], p["small_tuned"], p["small_base"]))
        if r["large_tuned"] > r["large_base"]:
            assert r["gap_closed"] == pytest.approx(pgr(r["large_base"], r["proxy"], r["large_tuned"]))
    # the base models do not depend on the number of gold labels; the tuned ones do
    assert rows[0]["large_base"] == rows[1]["large_base"]
    assert not np.allclose(rows[0]["probs"]["small_tuned"], rows[1]["probs"]["small_tuned"])


def test_run_proxy_tuning_rejects_bad_gold_sizes():
    from w2s.proxy import run_proxy_tuning

    with pytest.raises(ValueError, match="n_gold"):
        run_proxy_tuning(n_gold=(0,))
    with pytest.raises(ValueError, match="n_gold"):
        run_proxy_tuning(n_gold=(10_000,))
