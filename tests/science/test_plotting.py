"""w2s.plotting: importing it changes nothing, and each figure shows what it claims
(bar heights, PGR text, counts, colours scales) with a title, axis labels and a legend."""

import subprocess
import sys

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from w2s import plotting  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _texts(ax):
    return " ".join(t.get_text() for t in ax.texts)


def _labelled(ax):
    assert ax.get_title() and ax.get_xlabel() + "".join(t.get_text() for t in ax.get_xticklabels())
    assert ax.get_ylabel()


def test_import_has_no_side_effects():
    code = ("import sys, matplotlib\n"
            "before = dict(dict.items(matplotlib.rcParams))\n"
            "import w2s.plotting\n"
            "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported at import time'\n"
            "assert dict(dict.items(matplotlib.rcParams)) == before, 'rcParams changed'\n")
    subprocess.run([sys.executable, "-c", code], check=True)
    out = subprocess.run([sys.executable, "-c", "import sys, w2s.plotting; "
                          "print('matplotlib' in sys.modules)"], capture_output=True, text=True)
    assert out.stdout.strip() == "False"


def test_every_public_function_names_its_lesson():
    public = [getattr(plotting, n) for n in dir(plotting)
              if callable(getattr(plotting, n)) and not n.startswith("_")
              and getattr(plotting, n).__module__ == plotting.__name__]
    assert public
    for fn in public:
        assert fn.__doc__ and "Lesson" in fn.__doc__, f"{fn.__name__} does not name its lesson"


def test_pgr_bars_heights_and_pgr_text():
    ax = plotting.pgr_bars(0.41, 0.77, 0.95, title="t")
    heights = [p.get_height() for p in ax.patches]
    assert heights == pytest.approx([41.0, 77.0, 95.0])
    assert f"PGR = {(0.77 - 0.41) / (0.95 - 0.41):.2f}" in _texts(ax)
    _labelled(ax)


@pytest.mark.parametrize("p_w2s, sign", [(0.85, "-"), (0.99, "")])
def test_pgr_bars_negative_and_above_one(p_w2s, sign):
    ax = plotting.pgr_bars(0.88, p_w2s, 0.95)
    value = (p_w2s - 0.88) / (0.95 - 0.88)
    assert f"PGR = {value:.2f}" in _texts(ax)
    assert (value < 0) == (sign == "-")


def test_pgr_bars_undefined_pgr_says_so():
    ax = plotting.pgr_bars(0.9, 0.85, 0.85)
    assert "undefined" in _texts(ax) and "PGR =" not in _texts(ax)


def test_training_curves_lines_stops_and_pgr_axis():
    curves = {"a": [0.5, 0.7, 0.6], "b": [0.4, 0.5, 0.8]}
    ax = plotting.training_curves(curves, p_weak=0.4, p_ceiling=0.9, stops={"a": 2})
    lines = {l.get_label(): l for l in ax.get_lines()}
    assert list(lines["a"].get_ydata()) == pytest.approx([50, 70, 60])
    stop = lines["a: early stop (epoch 2)"]
    assert list(stop.get_xdata()) == [2] and list(stop.get_ydata()) == pytest.approx([70])
    assert len(ax.child_axes) == 1, "a secondary PGR axis"
    secondary = ax.child_axes[0]
    assert "PGR" in secondary.get_ylabel()
    _labelled(ax)
    assert ax.get_legend() is not None


def test_weak_error_breakdown_by_hand():
    y_true = np.array([0, 1, 2, 3, 4, 5])
    weak = np.array([1, 1, 0, 0, 0, 5])         # wrong on examples 0, 2, 3, 4
    student = np.array([1, 0, 2, 2, 0, 5])      # copies 0 and 4, fixes 2, other mistake on 3
    out = plotting.weak_error_breakdown(student, weak, y_true)
    assert out == pytest.approx({"copied": 0.5, "corrected": 0.25, "other": 0.25})
    with pytest.raises(ValueError, match="no mistakes"):
        plotting.weak_error_breakdown(y_true, y_true, y_true)


def test_error_breakdown_bars_stack_to_100():
    parts = {"a": {"copied": 0.1, "corrected": 0.7, "other": 0.2},
             "b": {"copied": 0.6, "corrected": 0.3, "other": 0.1}}
    ax = plotting.error_breakdown_bars(parts)
    tops = {}
    for p in ax.patches:
        x = round(p.get_x() + p.get_width() / 2)
        tops[x] = max(tops.get(x, 0), p.get_y() + p.get_height())
    assert tops == pytest.approx({0: 100.0, 1: 100.0})
    assert ax.get_legend() is not None
    _labelled(ax)


def _fake_sweep():
    rows = []
    for i, weak in enumerate(["w1", "w2"]):
        for j, strong in enumerate(["s1", "s2", "s3"]):
            rows.append({"weak": weak, "strong": strong, "loss": "xent",
                         "pgr": {"mean": i + j / 10}, "p_ceiling": {"mean": 0.8 + j / 100}})
    return {"weak_order": ["w1", "w2"], "strong_order": ["s1", "s2", "s3"], "losses": ["xent"],
            "rows": rows}


def test_sweep_grid_and_heatmap():
    grid = plotting.sweep_grid(_fake_sweep(), "xent")
    assert grid.shape == (2, 3)
    assert grid == pytest.approx(np.array([[0.0, 0.1, 0.2], [1.0, 1.1, 1.2]]))
    assert plotting.sweep_grid(_fake_sweep(), "xent", "p_ceiling")[1] == pytest.approx([0.8, 0.81, 0.82])
    with pytest.raises(ValueError, match="no loss 'conf'"):
        plotting.sweep_grid(_fake_sweep(), "conf")
    ax = plotting.pgr_heatmap(grid, ["w1", "w2"], ["s1", "s2", "s3"], title="PGR")
    assert np.asarray(ax.images[0].get_array()) == pytest.approx(grid)
    assert ax.images[0].get_clim() == (0.0, 1.0)
    assert sorted(t.get_text() for t in ax.texts) == sorted(f"{v:.2f}" for v in grid.ravel())
    _labelled(ax)


def test_error_matrix_counts_only_mistakes():
    y_true = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    y_pred = np.array([0, 1, 1, 1, 0, 1, 1, 1, 2])
    ax = plotting.error_matrix(y_true, y_pred, 3, title="m")
    counts = np.asarray(ax.images[0].get_array(), dtype=float)
    expected = np.array([[np.nan, 2, 0], [1, np.nan, 0], [0, 3, np.nan]])
    np.testing.assert_array_equal(counts, expected)
    assert "6 test mistakes" in ax.get_title()


def test_metric_lines_and_chain_accuracy():
    ax = plotting.metric_lines([1, 2, 3], {"xent": ([0.5, 0.6, 0.7], [0.1, 0.1, 0.1])},
                               xlabel="gap", title="t")
    (container,) = ax.containers
    assert container.get_label() == "xent"
    assert list(container.lines[0].get_ydata()) == pytest.approx([0.5, 0.6, 0.7])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["xent"]
    _labelled(ax)
    stages = {"via m": [("m", 0.6, 0.01), ("L", 0.65, 0.02)], "direct-ish": [("L", 0.5, 0.0)]}
    ax = plotting.chain_accuracy(stages, p_weak=0.3, p_ceiling=0.95, p_direct=0.55)
    lines = {c.get_label(): c.lines[0] for c in ax.containers}
    assert list(lines["via m"].get_ydata()) == pytest.approx([60.0, 65.0])
    assert list(lines["direct-ish"].get_ydata()) == pytest.approx([50.0])
    # chains of different length end at the same position: the final student
    assert round(lines["via m"].get_xdata()[-1]) == round(lines["direct-ish"].get_xdata()[-1]) == 2
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "via m" in legend and "P_weak (teacher)" in legend
    _labelled(ax)


def test_undefined_pgr_is_nan_in_the_grid_and_marked_in_the_heatmap():
    sweep = _fake_sweep()
    sweep["rows"][0]["pgr"]["mean"] = None          # w1 -> s1: no gap, PGR undefined
    grid = plotting.sweep_grid(sweep, "xent")
    assert grid.dtype == float and np.isnan(grid[0, 0]) and grid[0, 1] == pytest.approx(0.1)
    ax = plotting.pgr_heatmap(grid, ["w1", "w2"], ["s1", "s2", "s3"], title="PGR")
    texts = [t.get_text() for t in ax.texts]
    assert sum("undefined" in t for t in texts) == 1 and "nan" not in " ".join(texts)
