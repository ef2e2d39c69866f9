"""Reprint the course's science targets (issue 10) and how long the commands take.

    .venv/bin/python benchmarks/science.py [--quick]

Runs the commands through the real CLI (pretrained weights from data/), 5 seeds each, and
prints one table per target with PASS/MISS, then the wall-clock times. ``--quick`` skips
the full fine-tuning ablations (the slowest part, several minutes on two busy cores).
Settings were chosen on the validation seed 100, which no command here uses.
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
    return "undefined" if stat["mean"] is None else f"{stat['mean']:.3f} ± {stat['std']:.3f}"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def run_table(title, runs):
    print(f"\n## {title}\n")
    print("| command | P_weak | P_ceiling | P_weak→strong | PGR | min(P_w2s − P_weak) | agreement |")
    print("|---|---|---|---|---|---|---|")
    for name, (_, r) in runs.items():
        margin = min(s - w for s, w in zip(r["p_weak_to_strong"]["per_seed"], r["p_weak"]["per_seed"]))
        print(f"| `{name}` | {fmt(r['p_weak'])} | {fmt(r['p_ceiling'])} | "
              f"{fmt(r['p_weak_to_strong'])} | {fmt(r['pgr'])} | {margin:+.3f} | "
              f"{fmt(r['agreement_on_weak_errors'])} |")


def ablation_table(track, runs, modes):
    print(f"\n## Pre-training ablation, {track} track (same mode, lr and epochs; weak labels)\n")
    print("| mode | pretrained P_w2s | random-init P_w2s | difference | target ≥ +0.10 |")
    print("|---|---|---|---|---|")
    for mode in modes:
        pre = runs[f"w2s run --track {track} --mode {mode}"][1]["p_weak_to_strong"]["mean"]
        none = runs[f"w2s run --track {track} --mode {mode} --pretrain none"][1]["p_weak_to_strong"]["mean"]
        print(f"| {mode} | {pre:.3f} | {none:.3f} | {pre - none:+.3f} | {verdict(pre - none >= 0.10)} |")


def main():
    quick = "--quick" in sys.argv
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import w2s"], check=True)
    import_s = time.perf_counter() - start

    modes = ["probe"] if quick else ["probe", "finetune"]
    runs = {}
    runs["w2s run --track lm"] = timed("run", "--track", "lm", "--seeds", "5")
    runs["w2s run --track lm --loss conf"] = timed("run", "--track", "lm", "--seeds", "5", "--loss", "conf")
    for track in ("lm", "vision"):
        for mode in modes:
            if not (track == "lm" and mode == "probe"):
                runs[f"w2s run --track {track} --mode {mode}"] = timed(
                    "run", "--track", track, "--mode", mode, "--seeds", "5")
            runs[f"w2s run --track {track} --mode {mode} --pretrain none"] = timed(
                "run", "--track", track, "--mode", mode, "--pretrain", "none", "--seeds", "5")
    runs["w2s run --track lm --mode probe"] = runs["w2s run --track lm"]
    runs["w2s run --track lm --weak bow"] = timed("run", "--track", "lm", "--weak", "bow", "--seeds", "5")
    runs["w2s run --track lm --weak lm-s-brief"] = timed("run", "--track", "lm", "--weak", "lm-s-brief",
                                                         "--seeds", "5")
    runs["w2s run --track vision --weak noisy-0.8"] = timed("run", "--track", "vision", "--weak",
                                                            "noisy-0.8", "--seeds", "5")
    sweep_s, sweep = timed("sweep", "--track", "lm", "--seeds", "5", "--losses", "xent,conf")

    run_table("Runs (5 seeds each)", {k: v for k, v in runs.items() if k != "w2s run --track lm --mode probe"})
    head = runs["w2s run --track lm"][1]
    gap = head["p_ceiling"]["mean"] - head["p_weak"]["mean"]
    every = all(s > w for s, w in zip(head["p_weak_to_strong"]["per_seed"], head["p_weak"]["per_seed"]))
    print("\n## Headline targets (`w2s run --track lm --seeds 5`)\n")
    print(f"- P_ceiling − P_weak = {gap:.3f} (≥ 0.10): {verdict(gap >= 0.10)}")
    print(f"- PGR (xent) mean = {head['pgr']['mean']:.3f} (≥ 0.3): {verdict(head['pgr']['mean'] >= 0.3)}")
    print(f"- P_weak→strong > P_weak on every seed: {verdict(every)}")
    print(f"- time {runs['w2s run --track lm'][0]:.1f} s (≤ 30 s): {verdict(runs['w2s run --track lm'][0] <= 30)}")

    ablation_table("lm", runs, modes)
    ablation_table("vision", runs, modes)

    print("\n## Sweep `w2s sweep --track lm --losses xent,conf` (PGR mean over 5 seeds; agreement "
          "= share of the weak model's test errors the student repeats)\n")
    print("| weak | loss | " + " | ".join(sweep["strong_order"]) + " | agreement (small → large) |")
    print("|---|---|" + "---|" * len(sweep["strong_order"]) + "---|")
    cells = {(r["weak"], r["strong"], r["loss"]): r for r in sweep["rows"]}
    for weak in sweep["weak_order"]:
        for loss in sweep["losses"]:
            row = [cells[(weak, s, loss)] for s in sweep["strong_order"]]
            pgrs = " | ".join("undefined" if r["pgr"]["mean"] is None else f"{r['pgr']['mean']:.2f}"
                              for r in row)
            agree = " → ".join(f"{r['agreement_on_weak_errors']['mean']:.2f}" for r in row)
            print(f"| {weak} | {loss} | {pgrs} | {agree} |")
    weakest, largest, smallest = sweep["weak_order"][0], sweep["strong_order"][-1], sweep["strong_order"][0]
    gain = cells[(weakest, largest, "conf")]["pgr"]["mean"] - cells[(weakest, largest, "xent")]["pgr"]["mean"]
    print(f"\n- conf − xent PGR at the largest gap ({weakest} → {largest}) = {gain:+.3f} (≥ +0.1): "
          f"{verdict(gain >= 0.1)}")
    for loss in sweep["losses"]:
        share = [sum(cells[(w, s, loss)]["agreement_on_weak_errors"]["mean"] for w in sweep["weak_order"])
                 / len(sweep["weak_order"]) for s in (smallest, largest)]
        print(f"- {loss}: {largest} repeats {share[1]:.2f} of weak errors, {smallest} {share[0]:.2f}: "
              f"{verdict(share[1] < share[0])}")

    print("\n## Wall-clock times on this machine\n")
    print("| command | seconds |")
    print("|---|---|")
    print(f"| `python -c 'import w2s'` | {import_s:.2f} |")
    for name, (seconds, _) in runs.items():
        if name != "w2s run --track lm --mode probe":
            print(f"| `{name} --seeds 5` | {seconds:.1f} |")
    print(f"| `w2s sweep --track lm --seeds 5 --losses xent,conf` | {sweep_s:.1f} |")


if __name__ == "__main__":
    main()
