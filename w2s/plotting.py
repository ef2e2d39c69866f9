"""The course's recurring figures. Each function names the lesson that introduces it.

Importing this module changes nothing: matplotlib is imported inside the functions, and
no style, backend or rcParam is touched. Every function draws on the Axes you pass (or a
new figure) and returns that Axes, so a lesson can add to it or place it in a grid.
"""

from __future__ import annotations

import numpy as np

# One colour per model role, used by every figure so that a reader learns them once.
COLORS = {"weak": "#d95f02", "w2s": "#1b9e77", "ceiling": "#7570b3", "other": "#999999"}


def _axes(ax, figsize=(5.5, 4)):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def pgr_bars(p_weak: float, p_weak_to_strong: float, p_ceiling: float, *, ax=None,
             title: str = "Weak-to-strong: the three accuracies", labels=None):
    """Lesson 01. Bars for P_weak, P_weak→strong and P_ceiling (accuracy in %), with a
    bracket marking the gap P_ceiling - P_weak and the share of it the student recovered.

    ``labels`` renames the three bars (default: weak supervisor, student on weak labels,
    student on ground truth). PGR is printed only where it is defined (P_ceiling > P_weak).
    """
    ax = _axes(ax)
    values = np.array([p_weak, p_weak_to_strong, p_ceiling], dtype=float) * 100
    labels = labels or ["P_weak\n(teacher)", "P_weak→strong\n(student on\nweak labels)",
                        "P_ceiling\n(student on\nground truth)"]
    colors = [COLORS["weak"], COLORS["w2s"], COLORS["ceiling"]]
    bars = ax.bar(range(3), values, color=colors, width=0.6)
    for bar, value in zip(bars, values):
        ax.text(bar.get_x() + bar.get_width() / 2, value + 1, f"{value:.1f}%",
                ha="center", va="bottom", fontsize=9)
    top = max(100.0, values.max() + 12)
    ax.set_ylim(0, top)
    ax.set_xticks(range(3), labels, fontsize=8)
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title)
    gap = values[2] - values[0]
    if gap > 0:
        x = 2.65
        # grey arrow: the whole gap from P_weak to P_ceiling; green strip: the part recovered
        ax.hlines([values[0], values[2]], -0.3, x, colors="grey", linestyles=":", lw=1)
        ax.annotate("", xy=(x, values[2]), xytext=(x, values[0]),
                    arrowprops=dict(arrowstyle="<->", color="grey", lw=1.2))
        ax.plot([x + 0.1] * 2, [values[0], values[1]], color=COLORS["w2s"], lw=5,
                solid_capstyle="butt")
        pgr_value = (values[1] - values[0]) / gap
        middle = min(max((values[0] + values[2]) / 2, 12.0), top - 12.0)
        ax.text(x + 0.22, middle, f"gap {gap:.1f} pts\nrecovered {values[1] - values[0]:+.1f}\n"
                f"PGR = {pgr_value:.2f}", va="center", ha="left", fontsize=8.5)
        ax.set_xlim(-0.5, x + 1.35)
    else:
        ax.text(1, top * 0.92, "P_ceiling ≤ P_weak: no gap, PGR undefined", ha="center",
                fontsize=9, color="crimson")
    return ax


def training_curves(curves: dict, *, p_weak: float | None = None, p_ceiling: float | None = None,
                    stops: dict | None = None, ax=None,
                    title: str = "Test accuracy while training on weak labels"):
    """Lesson 02. Test accuracy (%) per epoch for each ``label -> list of accuracies``.

    Dashed lines mark P_weak and P_ceiling when given; a right-hand axis then reads the same
    height as PGR. ``stops`` maps a label to the epoch early stopping chose (a marker).
    """
    ax = _axes(ax, figsize=(7, 4.2))
    for i, (label, acc) in enumerate(curves.items()):
        acc = np.asarray(acc, dtype=float) * 100
        epochs = np.arange(1, len(acc) + 1)
        (line,) = ax.plot(epochs, acc, lw=2, label=label, color=f"C{i}")
        if stops and stops.get(label):
            e = stops[label]
            ax.plot([e], [acc[e - 1]], marker="v", ms=10, color=line.get_color(),
                    markeredgecolor="black", linestyle="none",
                    label=f"{label}: early stop (epoch {e})")
    if p_weak is not None:
        ax.axhline(p_weak * 100, color=COLORS["weak"], ls="--", lw=1.5, label="P_weak")
    if p_ceiling is not None:
        ax.axhline(p_ceiling * 100, color=COLORS["ceiling"], ls="--", lw=1.5, label="P_ceiling")
    if p_weak is not None and p_ceiling is not None and p_ceiling > p_weak:
        lo, hi = p_weak * 100, p_ceiling * 100
        sec = ax.secondary_yaxis("right", functions=(lambda a: (a - lo) / (hi - lo),
                                                     lambda g: lo + g * (hi - lo)))
        sec.set_ylabel("PGR at that accuracy")
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="lower right")
    return ax


def weak_error_breakdown(student_pred, weak_pred, y_true) -> dict:
    """Lesson 02. On the test examples the weak model gets wrong, the shares where the
    student makes the *same* mistake, gets it *right*, or makes a *different* mistake."""
    student_pred, weak_pred, y_true = map(np.asarray, (student_pred, weak_pred, y_true))
    wrong = weak_pred != y_true
    if not wrong.any():
        raise ValueError("the weak model makes no mistakes on these examples: nothing to break down")
    s, w, y = student_pred[wrong], weak_pred[wrong], y_true[wrong]
    copied = float(np.mean(s == w))
    corrected = float(np.mean(s == y))
    return {"copied": copied, "corrected": corrected, "other": 1.0 - copied - corrected}


def error_breakdown_bars(breakdowns: dict, *, ax=None,
                         title: str = "Where the teacher was wrong, what did the student do?"):
    """Lesson 02. One stacked bar per supervisor: of its test mistakes, the share the
    student copied, corrected, or got wrong differently (``label -> weak_error_breakdown``)."""
    ax = _axes(ax, figsize=(7, 4))
    names = list(breakdowns)
    parts = [("copied", "copied the teacher's mistake", COLORS["weak"]),
             ("corrected", "corrected it (right answer)", COLORS["w2s"]),
             ("other", "a different mistake", COLORS["other"])]
    bottom = np.zeros(len(names))
    for key, label, color in parts:
        share = np.array([breakdowns[n][key] for n in names]) * 100
        ax.bar(names, share, bottom=bottom, color=color, label=label, width=0.6)
        for i, (b, v) in enumerate(zip(bottom, share)):
            if v >= 6:
                ax.text(i, b + v / 2, f"{v:.0f}%", ha="center", va="center", fontsize=9,
                        color="white")
        bottom += share
    ax.set_ylim(0, 100)
    ax.set_ylabel("share of the weak model's test mistakes (%)")
    ax.set_xlabel("weak supervisor")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=3, frameon=False)
    return ax


def metric_lines(x, series: dict, *, xlabel: str, ylabel: str = "PGR", title: str, ax=None,
                 xticklabels=None, reference_lines=(0.0, 1.0)):
    """Lessons 03 and 04. One line per ``label -> (means, stds)`` over the values ``x``,
    with error bars (one standard deviation over seeds) and faint reference lines."""
    ax = _axes(ax)
    for i, (label, (mean, std)) in enumerate(series.items()):
        ax.errorbar(x, mean, yerr=std, marker="o", capsize=4, lw=2, label=label, color=f"C{i}")
    for ref in reference_lines:
        ax.axhline(ref, color="grey", lw=0.8, ls=":")
    if xticklabels is not None:
        ax.set_xticks(x, xticklabels)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    return ax


def sweep_grid(sweep: dict, loss: str, metric: str = "pgr") -> np.ndarray:
    """Lesson 04. The mean of ``metric`` from a ``w2s.experiment.sweep`` result as a
    (weak x strong) array, rows in ``sweep["weak_order"]``, columns in ``sweep["strong_order"]``.
    An undefined PGR (``None`` in the JSON: no gap) becomes NaN."""
    if loss not in sweep["losses"]:
        raise ValueError(f"this sweep has no loss {loss!r}; it has {sweep['losses']}")
    cells = {(r["weak"], r["strong"]): r[metric]["mean"] for r in sweep["rows"] if r["loss"] == loss}
    return np.array([[np.nan if cells[(w, s)] is None else cells[(w, s)] for s in sweep["strong_order"]]
                     for w in sweep["weak_order"]], dtype=float)


def pgr_heatmap(grid, weak_names, strong_names, *, ax=None, title: str = "PGR",
                vmin: float = 0.0, vmax: float = 1.0, colorbar: bool = True):
    """Lesson 04. A weak (rows) x strong (columns) heat map of PGR, each cell annotated.

    The colour scale is fixed to [``vmin``, ``vmax``] so that two maps side by side compare;
    values outside it keep their printed number; an undefined PGR (NaN) is marked "undefined"."""
    ax = _axes(ax)
    grid = np.asarray(grid, dtype=float)
    image = ax.imshow(grid, cmap="viridis", vmin=vmin, vmax=vmax, aspect="auto")
    for i in range(grid.shape[0]):
        for j in range(grid.shape[1]):
            value = grid[i, j]
            if np.isnan(value):
                ax.text(j, i, "undefined\n(no gap)", ha="center", va="center", fontsize=9,
                        color="0.3")
                continue
            shade = (value - vmin) / (vmax - vmin) if vmax > vmin else 0.5
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=11,
                    color="black" if shade > 0.6 else "white")
    ax.set_xticks(range(len(strong_names)), strong_names)
    ax.set_yticks(range(len(weak_names)), weak_names)
    ax.set_xlabel("strong student (larger →)")
    ax.set_ylabel("weak supervisor (weaker ↑)")
    ax.set_title(title)
    if colorbar:
        ax.figure.colorbar(image, ax=ax, label="PGR (fraction of gap recovered)")
    return ax


def chain_accuracy(stages: dict, *, p_weak: float, p_ceiling: float, p_direct: float | None = None,
                   ax=None, title: str = "Bootstrapping: test accuracy along each chain"):
    """Lesson 04. Test accuracy (%) at each hop of one or more supervision chains.

    ``stages`` maps a chain's label to a list of ``(model name, mean accuracy, std)`` from the
    first intermediate to the final student. P_weak, P_ceiling and (if given) the final student
    trained directly on the weak labels are drawn as horizontal reference lines."""
    ax = _axes(ax, figsize=(7.5, 4.2))
    longest = max(len(h) for h in stages.values())
    for i, (label, hops) in enumerate(stages.items()):
        # align every chain on its final student, so chains of different length compare
        xs = np.arange(longest - len(hops) + 1, longest + 1)
        mean = np.array([h[1] for h in hops]) * 100
        std = np.array([h[2] for h in hops]) * 100
        ax.errorbar(xs + 0.04 * (i - (len(stages) - 1) / 2), mean, yerr=std, marker="o",
                    capsize=4, lw=2, label=label, color=f"C{i}")
    ax.axhline(p_weak * 100, color=COLORS["weak"], ls="--", lw=1.2, label="P_weak (teacher)")
    ax.axhline(p_ceiling * 100, color=COLORS["ceiling"], ls="--", lw=1.2, label="P_ceiling")
    if p_direct is not None:
        ax.axhline(p_direct * 100, color="black", ls=":", lw=1.5,
                   label="final student trained directly on weak labels")
    ax.set_xticks(range(1, longest + 1),
                  [f"intermediate {k}" for k in range(1, longest)] + ["final student"])
    ax.set_xlim(0.6, longest + 0.4)
    ax.set_xlabel("position in the chain of supervision")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title)
    ax.legend(fontsize=7.5, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return ax


def error_matrix(y_true, y_pred, n_classes: int, *, ax=None, title: str = "Mistakes",
                 vmax: float | None = None):
    """Lesson 02. Counts of (true class, predicted class) over the *mistakes* only.

    The diagonal (correct answers) is left blank so that the structure of the errors shows:
    scattered faint cells are random-looking errors, a few dark cells are systematic ones."""
    ax = _axes(ax, figsize=(4, 3.6))
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    counts = np.zeros((n_classes, n_classes))
    np.add.at(counts, (y_true, y_pred), 1)
    np.fill_diagonal(counts, np.nan)
    image = ax.imshow(counts, cmap="Reds", vmin=0, vmax=vmax or np.nanmax(counts))
    for i in range(n_classes):
        for j in range(n_classes):
            if i != j and counts[i, j] >= 3:
                ax.text(j, i, f"{counts[i, j]:.0f}", ha="center", va="center", fontsize=7)
    ax.set_xticks(range(n_classes))
    ax.set_yticks(range(n_classes))
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(f"{title}\n({int(np.nansum(counts))} test mistakes)", fontsize=10)
    return ax
