"""The ``w2s`` command: run the experiment, sweep it, pretrain, release, check and grade.

``run``, ``sweep`` and ``pretrain`` live here. ``release``, ``check`` and ``grade`` belong to
the course tooling (``autograder.release``, ``autograder.check``, ``autograder.grade``), each
of which provides ``add_arguments(parser)`` and ``run(args) -> exit code``. A command's module
is imported only when that command is chosen, so ``w2s run`` and ``w2s --help`` never load
the grading stack (nbformat, nbclient, nbgrader).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from pathlib import Path
from typing import NamedTuple


class Command(NamedTuple):
    """Where a subcommand lives: ``module.add`` fills its parser, ``module.run`` runs it."""
    module: str
    help: str
    add: str = "add_arguments"
    run: str = "run"


# Read without importing anything: only the chosen command's module is loaded.
COMMANDS = {
    "run": Command("w2s.cli", "run the weak-to-strong experiment of lesson 02",
                   "add_run_arguments", "cmd_run"),
    "sweep": Command("w2s.cli", "every supervisor x student x loss (lesson 04)",
                     "add_sweep_arguments", "cmd_sweep"),
    "pretrain": Command("w2s.cli", "regenerate data/ (synthetic data, pretrained students)",
                        "add_pretrain_arguments", "cmd_pretrain"),
    "release": Command("autograder.release",
                       "regenerate exercises/ from solutions/ (nbgrader generate)"),
    "check": Command("autograder.check", "run a notebook's visible tests and report each question"),
    "grade": Command("autograder.grade",
                     "autograde a folder of submissions, sandboxed and in parallel"),
    "export": Command("autograder.export", "write grades.csv as a Canvas gradebook import CSV"),
}


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _add_experiment_options(p: argparse.ArgumentParser, sweep: bool = False) -> None:
    from w2s.registry import (DEFAULT_TRACK, LM_ORDER, LOSSES, MODES, PRETRAIN_CHOICES,
                              STRONG_MODELS, TRACKS, WEAK_MODELS)

    p.add_argument("--track", default=DEFAULT_TRACK, choices=sorted(TRACKS),
                   help="lm: tiny language models on a generated corpus (default); "
                        "vision: digits with weaker image representations")
    p.add_argument("--seeds", type=int, default=5, help="number of seeds, 0..N-1 (default 5)")
    p.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON")
    p.add_argument("--dataset", default=None,
                   help="vision track only: digits (default) or latent")
    names = f"lm: {', '.join(n for n, s in WEAK_MODELS.items() if s.track == 'lm')}; " \
            f"vision: {', '.join(n for n, s in WEAK_MODELS.items() if s.track == 'vision')}"
    students = f"lm: {', '.join(LM_ORDER)}; vision: {', '.join(STRONG_MODELS)}"
    if sweep:
        p.add_argument("--weak", type=_csv, metavar="A,B,..",
                       help=f"supervisors, weakest first ({names})")
        p.add_argument("--strong", type=_csv, metavar="A,B,..",
                       help=f"students, smallest first ({students})")
        p.add_argument("--losses", type=_csv, default=["xent", "conf"], metavar="A,B",
                       help=f"losses to compare (from {', '.join(LOSSES)}; default xent,conf)")
    else:
        p.add_argument("--weak", default=None, help=f"the supervisor ({names}; default: "
                       f"{', '.join(f'{t.weak} on {t.name}' for t in TRACKS.values())})")
        p.add_argument("--strong", default=None, help=f"the student ({students}; default: "
                       f"{', '.join(f'{t.strong} on {t.name}' for t in TRACKS.values())})")
        p.add_argument("--loss", default="xent", choices=LOSSES)
    p.add_argument("--pretrain", default="default", choices=PRETRAIN_CHOICES,
                   help="the student's pre-training: the track's own (next-token on lm, "
                        "simclr on vision) or 'none', the random-init contrast; changes "
                        "nothing else")
    p.add_argument("--mode", default="probe", choices=MODES,
                   help="probe: train the head on frozen features; finetune: all weights")
    p.add_argument("--epochs", type=int, default=None,
                   help="training epochs (default: the track's recipe for the mode)")
    p.add_argument("--lr", type=float, default=None,
                   help="learning rate (default: the track's recipe for the mode)")
    p.add_argument("--hard-labels", action="store_true", help="train on argmax weak labels")
    p.add_argument("--early-stopping", action="store_true",
                   help="keep the epoch with the best loss on a weak-labelled held-out split")
    p.add_argument("--alpha-max", type=float, default=None,
                   help="confidence loss weight (default 0.5; only with the conf loss)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _config(args, **overrides):
    """The Config the flags ask for, or exit with a message saying what to change."""
    from w2s.experiment import Config

    losses = [overrides.get("loss", "xent")] if not hasattr(args, "losses") else args.losses
    if args.alpha_max is not None and "conf" not in losses:
        raise SystemExit(f"w2s {args.command}: --alpha-max only affects the confidence loss; "
                         "add --loss conf (run) or conf to --losses (sweep)")
    kw = dict(track=args.track, dataset=args.dataset, pretrain=args.pretrain, mode=args.mode,
              epochs=args.epochs, lr=args.lr, hard_labels=args.hard_labels,
              early_stopping=args.early_stopping,
              alpha_max=0.5 if args.alpha_max is None else args.alpha_max)
    kw.update(overrides)
    try:
        return Config(**kw)
    except ValueError as exc:
        raise SystemExit(f"w2s {args.command}: {exc}") from None


def _fmt(stat: dict) -> str:
    if stat["mean"] is None:
        return "undefined"
    return f"{stat['mean']:.3f} ± {stat['std']:.3f}"


def _num(value, width: int = 7) -> str:
    return f"{'undefined':>{width}}" if value is None else f"{value:{width}.3f}"


def _write_json(path: Path, payload: dict) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(payload, indent=2, allow_nan=False) + "\n")
    except OSError as exc:
        raise SystemExit(f"w2s: cannot write {path}: {exc.strerror}. Choose a writable path.")
    print(f"wrote {path}")


def _check_writable(path: Path | None) -> None:
    """Refuse an unwritable --json path before any training starts."""
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        writable = os.access(path.parent, os.W_OK) and not path.is_dir()
        reason = "it is a folder" if path.is_dir() else "the folder is not writable"
    except OSError as exc:
        writable, reason = False, exc.strerror
    if not writable:
        raise SystemExit(f"w2s: cannot write {path}: {reason}. Choose a writable path.")


def _show_progress(args) -> bool:
    return not args.no_progress and sys.stderr.isatty()


def _describe(config) -> str:
    return (f"track {config.track}: weak {config.weak} -> strong {config.strong} "
            f"(pretrain {config.pretrain}, {config.mode}, lr {config.lr:g}, "
            f"{config.effective_epochs()} epochs)")


def cmd_run(args) -> int:
    from w2s.experiment import METRICS, run_seeds

    if args.seeds < 1:
        raise SystemExit("w2s run: --seeds must be at least 1")
    config = _config(args, weak=args.weak, strong=args.strong, loss=args.loss)
    _check_writable(args.json)
    out = run_seeds(config, args.seeds, progress=_show_progress(args))
    results = out.pop("results")
    print(f"{_describe(config)}, loss {config.loss}, {config.dataset}, {args.seeds} seeds")
    labels = {"p_weak": "P_weak", "p_ceiling": "P_ceiling", "p_weak_to_strong": "P_weak→strong",
              "pgr": "PGR", "agreement_on_weak_errors": "agreement on weak errors"}
    width = max(map(len, labels.values()))
    print(f"{'metric':<{width}}  {'mean ± std':>15}   per seed")
    for m in METRICS:
        per_seed = " ".join(_num(v, 0) if v is not None else "undefined"
                            for v in out[m]["per_seed"])
        print(f"{labels[m]:<{width}}  {_fmt(out[m]):>15}   {per_seed}")
    if out["pgr"]["mean"] is None or None in out["pgr"]["per_seed"]:
        print("PGR is undefined where P_ceiling <= P_weak: there is no gap to recover")
    print(f"{out['seconds']:.1f} s ({out['seconds'] / len(results):.1f} s per seed)")
    if args.json:
        _write_json(args.json, out)
    return 0


def cmd_sweep(args) -> int:
    from w2s.experiment import sweep
    from w2s.registry import LOSSES

    unknown = [n for n in args.losses if n not in LOSSES]
    if unknown:
        raise SystemExit(f"w2s sweep: unknown loss {', '.join(unknown)}; "
                         f"choose from {', '.join(LOSSES)}")
    if args.seeds < 1:
        raise SystemExit("w2s sweep: --seeds must be at least 1")
    base = _config(args, loss=args.losses[0] if args.losses else "xent")
    _check_writable(args.json)
    try:
        out = sweep(args.weak, args.strong, args.losses, args.seeds, base=base,
                    progress=_show_progress(args))
    except ValueError as exc:
        raise SystemExit(f"w2s sweep: {exc}") from None
    print(f"{_describe(base)}, {args.seeds} seeds")
    print(f"{'weak':<16} {'strong':<11} {'loss':<5} {'P_weak':>7} {'P_ceil':>7} "
          f"{'P_w2s':>7} {'PGR':>15} {'agree':>7}")
    for row in out["rows"]:
        print(f"{row['weak']:<16} {row['strong']:<11} {row['loss']:<5} "
              f"{_num(row['p_weak']['mean'])} {_num(row['p_ceiling']['mean'])} "
              f"{_num(row['p_weak_to_strong']['mean'])} {_fmt(row['pgr']):>15} "
              f"{_num(row['agreement_on_weak_errors']['mean'])}")
    print(f"{out['seconds']:.1f} s for {len(out['rows'])} cells x {args.seeds} seeds")
    if args.json:
        _write_json(args.json, out)
    return 0


def cmd_pretrain(args) -> int:
    from w2s.pretrain import pretrain_all, pretrain_lm

    paths = []
    if args.track in ("lm", "all"):
        paths += pretrain_lm(progress=_show_progress(args))
    if args.track in ("vision", "all"):
        paths += pretrain_all(epochs=args.epochs, progress=_show_progress(args))
    for path in paths:
        print(f"wrote {path}")
    print("checksums recorded in data/SHA256SUMS")
    return 0


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    _add_experiment_options(p)


def add_sweep_arguments(p: argparse.ArgumentParser) -> None:
    _add_experiment_options(p, sweep=True)


def add_pretrain_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--track", default="all", choices=["lm", "vision", "all"],
                   help="lm: the tiny LMs (about 6 min on one core); vision: the SimCLR "
                        "bodies and the latent data set; all (default): both")
    p.add_argument("--epochs", type=int, default=150, help="SimCLR epochs (default 150)")
    p.add_argument("--no-progress", action="store_true")


def _load(name: str, command: Command):
    try:
        return importlib.import_module(command.module)
    except ModuleNotFoundError as exc:
        if exc.name is None or not f"{command.module}.".startswith(f"{exc.name}."):
            raise
        raise SystemExit(f"w2s {name}: the module {command.module} is not installed. Install "
                         "the whole course from its repository (`make venv`).") from None


def build_parser(argv=None) -> argparse.ArgumentParser:
    """The parser, with only the chosen command's options (the first word of ``argv``)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    parser = argparse.ArgumentParser(prog="w2s", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, command in COMMANDS.items():
        if name != chosen:
            sub.add_parser(name, help=command.help)
            continue
        module = _load(name, command)
        description = command.help if command.module == "w2s.cli" else module.__doc__
        p = sub.add_parser(name, help=command.help, description=description)
        getattr(module, command.add)(p)
        p.set_defaults(func=getattr(module, command.run))
    return parser


def main(argv=None) -> int:
    args = build_parser(argv).parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("\nw2s: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
