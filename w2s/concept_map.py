"""The course on one page: every concept and how it connects. Drawn in lesson 07.

The map is data (``NODES``, ``EDGES``) plus one drawing function, so a concept added to the
course is one line here. Three bands: *measuring* weak-to-strong generalization (lesson 01),
*training* a large model with help from a small one (lessons 02-05), and *prediction time*:
steering the trained large model's decoding (proxy-tuning, lesson 07) and serving queries with
both (cascades, lesson 06).
"""

from __future__ import annotations

# band -> (fill colour, label drawn at the left edge)
BANDS = {
    "measure": ("#e8e4f4", "MEASURE\n(lesson 01)"),
    "train": ("#e3f2ea", "TRAIN the large model\nwith a small one\n(lessons 02-05)"),
    "serve": ("#fdebd9", "PREDICTION TIME:\nsteer and serve\nwith both\n(lessons 06-07)"),
}

# key: (text, x, y, band); coordinates on a 0-16 x 0.3-11 canvas
NODES = {
    "analogy": ("Superalignment analogy\nhumans supervising smarter models\n≈ small model supervising a large one", 2.9, 9.9, "measure"),
    "p_weak": ("P_weak\nweak model on test", 6.0, 8.6, "measure"),
    "p_w2s": ("P_weak→strong\nstrong model trained\non weak labels", 9.3, 8.6, "measure"),
    "p_ceiling": ("P_ceiling\nstrong model trained\non ground truth", 13.0, 8.6, "measure"),
    "pgr": ("PGR = (P_weak→strong − P_weak) ÷ (P_ceiling − P_weak)\n0: only imitates the teacher · 1: recovers the whole gap", 9.3, 10.3, "measure"),
    "weak": ("SMALL / WEAK model\n(cheap, less accurate)", 2.4, 5.9, "train"),
    "strong": ("LARGE / STRONG model\n(pretrained: already\nholds the concept)", 13.6, 5.9, "train"),
    "weak_labels": ("fine-tuning on weak labels (L02):\nthe student can beat its teacher;\nrandom-looking errors averaged out,\nsystematic ones copied", 6.2, 6.85, "train"),
    "losses": ("distillation loss (xent, KD)\nvs confidence loss (L03)", 9.3, 6.9, "train"),
    "bootstrap": ("bootstrapping through\nintermediate models (L04)", 9.3, 5.3, "train"),
    "selection": ("data selection by confidence (L05)\nLLM scale: perplexity pruning,\nDoReMi mixture weights", 5.0, 4.45, "train"),
    "proxy": ("proxy-tuning (L07), at decoding:\nlarge + (small tuned − small base)", 12.4, 2.9, "serve"),
    "cascade": ("cascade (L06): small model first,\ndefer when confidence < threshold", 4.2, 1.3, "serve"),
    "apgr": ("accuracy vs share of large calls,\ncost and latency; APGR =\nPGR averaged over the share", 8.9, 1.3, "serve"),
    "failure": ("fails when the small model is\nconfidently wrong (distribution\nshift, label noise, specialists)", 13.4, 1.3, "serve"),
}

# (from, to, label)
EDGES = [
    ("analogy", "weak", "plays the human"),
    ("weak", "p_weak", "accuracy"),
    ("weak", "weak_labels", "labels B"),
    ("weak_labels", "losses", ""),
    ("losses", "strong", "trains"),
    ("losses", "p_w2s", "accuracy"),
    ("strong", "p_ceiling", "on ground truth"),
    ("bootstrap", "strong", "hops"),
    ("p_weak", "pgr", ""),
    ("p_w2s", "pgr", ""),
    ("p_ceiling", "pgr", ""),
    ("weak", "selection", "confidence"),
    ("selection", "losses", "keeps the\nsure labels"),
    ("weak", "proxy", "tuned − base"),
    ("proxy", "strong", "steers"),
    ("weak", "cascade", "answers first"),
    ("cascade", "strong", "defers"),
    ("cascade", "apgr", ""),
    ("apgr", "failure", "unless"),
]

RAD = 0.08  # curvature of the arrows

_BAND_SPANS = {"measure": (7.7, 11.0), "train": (3.9, 7.7), "serve": (0.3, 3.9)}


def draw_concept_map(ax=None, title="Weak-to-strong generalization and friends: the course on one page"):
    """Draw the concept map on ``ax`` (or a new 16 x 10 inch figure) and return the Axes."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    if ax is None:
        _, ax = plt.subplots(figsize=(16, 10))
    ax.set_xlim(0, 16)
    ax.set_ylim(0.3, 11.0)
    ax.axis("off")
    for band, (low, high) in _BAND_SPANS.items():
        colour, label = BANDS[band]
        ax.add_patch(Rectangle((0, low), 16, high - low, color=colour, zorder=0))
        ax.text(0.1, high - 0.15, label, fontsize=9, fontweight="bold", va="top", color="0.35")
    boxes = {}
    for key, (text, x, y, band) in NODES.items():
        strong_box = key in ("weak", "strong")
        boxes[key] = ax.text(
            x, y, text, ha="center", va="center", fontsize=10 if strong_box else 8.5,
            fontweight="bold" if strong_box else "normal", zorder=3,
            bbox=dict(boxstyle="round,pad=0.4", facecolor="white",
                      edgecolor="black" if strong_box else "0.4", lw=1.5 if strong_box else 0.8))
    for src, dst, label in EDGES:
        start, end = NODES[src][1:3], NODES[dst][1:3]
        # arrows are drawn after the boxes (higher zorder) so that they clip against the
        # boxes' positions at this draw's resolution, not a stale one
        ax.annotate("", xy=end, xytext=start, zorder=5,
                    arrowprops=dict(arrowstyle="-|>", mutation_scale=16, color="0.3", lw=1.2,
                                    shrinkA=2, shrinkB=2,
                                    patchA=boxes[src].get_bbox_patch(),
                                    patchB=boxes[dst].get_bbox_patch(),
                                    connectionstyle=f"arc3,rad={RAD}"))
        if label:
            # the midpoint of matplotlib's arc3 curve: chord midpoint + rad / 2 * (dy, -dx)
            dx, dy = end[0] - start[0], end[1] - start[1]
            mid = ((start[0] + end[0]) / 2 + RAD / 2 * dy, (start[1] + end[1]) / 2 - RAD / 2 * dx)
            ax.text(*mid, label, fontsize=7.5, style="italic", ha="center", va="center",
                    color="0.2", zorder=6,
                    bbox=dict(boxstyle="round,pad=0.15", facecolor="white", edgecolor="none",
                              alpha=0.8))
    ax.set_title(title, fontsize=14)
    return ax
