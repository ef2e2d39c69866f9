"""Draw the README's picture from a fresh 5-seed run:  .venv/bin/python docs/make_figure.py"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from w2s.experiment import Config, run_seeds  # noqa: E402

OUT = Path(__file__).with_name("weak-to-strong.png")


def main():
    setups = [("from scratch\n(xent)", Config(pretrain="none")),
              ("pretrained\n(xent)", Config()),
              ("pretrained\n(confidence loss)", Config(loss="conf"))]
    results = [(label, run_seeds(cfg, 5)) for label, cfg in setups]
    fig, ax = plt.subplots(figsize=(8, 4.2), dpi=120)
    p_weak = results[0][1]["p_weak"]["mean"]
    ax.axhline(p_weak, color="tab:red", ls="--", label=f"P_weak = {p_weak:.2f} (weak supervisor)")
    for i, (label, r) in enumerate(results):
        ceil, w2s = r["p_ceiling"]["mean"], r["p_weak_to_strong"]["mean"]
        ax.bar(i, ceil, width=0.6, color="lightgray", edgecolor="gray",
               label="P_ceiling (trained on ground truth)" if i == 0 else None)
        ax.bar(i, w2s, width=0.35, color="tab:blue", yerr=r["p_weak_to_strong"]["std"],
               label="P_weak→strong (trained on weak labels)" if i == 0 else None)
        ax.text(i, w2s + 0.03, f"PGR {r['pgr']['mean']:.2f}", ha="center", fontweight="bold")
    ax.set_xticks(range(len(results)), [label for label, _ in results])
    ax.set_ylim(0, 1.25)
    ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.set_ylabel("test accuracy (fraction)")
    ax.set_title("A strong student beats its weak teacher on digits (5 seeds, CPU)")
    ax.legend(loc="upper center", ncol=3, fontsize=7.5, frameon=False)
    fig.tight_layout()
    fig.savefig(OUT)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
