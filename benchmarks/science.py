"""Reprint the course's headline figures and how long the commands take.

    .venv/bin/python benchmarks/science.py

Runs the three commands of the foundation issue through the real CLI (pre-trained weights
loaded from data/) and prints one table of results and one of wall-clock times.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
W2S = Path(sys.executable).parent / "w2s"


def timed(*args):
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        start = time.perf_counter()
        subprocess.run([str(W2S), *args, "--json", str(out), "--no-progress"], cwd=ROOT,
                       check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - start, json.loads(out.read_text())


def fmt(stat):
    return f"{stat['mean']:.3f} ± {stat['std']:.3f}"


def main():
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import w2s"], check=True)
    import_s = time.perf_counter() - start

    runs = {}
    runs["w2s run --seeds 5"] = timed("run", "--seeds", "5")
    runs["w2s run --seeds 5 --pretrain none"] = timed("run", "--seeds", "5", "--pretrain", "none")
    runs["w2s run --seeds 5 --loss conf"] = timed("run", "--seeds", "5", "--loss", "conf")
    sweep_s, sweep = timed("sweep", "--seeds", "5", "--losses", "xent,conf")

    print("\n## Weak-to-strong on digits (noisy-0.8 -> mlp-large, 5 seeds)\n")
    print("| command | P_weak | P_ceiling | P_weak→strong | PGR | min(P_w2s − P_weak) |")
    print("|---|---|---|---|---|---|")
    for name, (_, r) in runs.items():
        margin = min(s - w for s, w in zip(r["p_weak_to_strong"]["per_seed"], r["p_weak"]["per_seed"]))
        print(f"| `{name}` | {fmt(r['p_weak'])} | {fmt(r['p_ceiling'])} | "
              f"{fmt(r['p_weak_to_strong'])} | {fmt(r['pgr'])} | {margin:+.3f} |")

    print("\n## Sweep: PGR (mean over 5 seeds) and agreement with the weak model's errors\n")
    print("| weak \\ strong | loss | " + " | ".join(sweep["strong_order"]) + " | agreement (small→large) |")
    print("|---|---|" + "---|" * len(sweep["strong_order"]) + "---|")
    cells = {(r["weak"], r["strong"], r["loss"]): r for r in sweep["rows"]}
    for weak in sweep["weak_order"]:
        for loss in sweep["losses"]:
            row = [cells[(weak, s, loss)] for s in sweep["strong_order"]]
            pgrs = " | ".join(f"{r['pgr']['mean']:.2f}" for r in row)
            agree = " → ".join(f"{r['agreement_on_weak_errors']['mean']:.3f}" for r in row)
            print(f"| {weak} | {loss} | {pgrs} | {agree} |")

    print("\n## Wall-clock times on this machine\n")
    print("| command | seconds |")
    print("|---|---|")
    print(f"| `python -c 'import w2s'` | {import_s:.2f} |")
    for name, (seconds, _) in runs.items():
        print(f"| `{name}` | {seconds:.1f} |")
    print(f"| `w2s sweep --seeds 5 --losses xent,conf` | {sweep_s:.1f} |")


if __name__ == "__main__":
    main()
