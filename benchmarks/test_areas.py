"""Where `make test`'s time goes: the suite run as `make test` runs it, timed per test area.

    .venv/bin/python benchmarks/test_areas.py                  # the whole suite, as make test
    .venv/bin/python benchmarks/test_areas.py -m "not slow"    # any pytest arguments narrow it
    .venv/bin/python benchmarks/test_areas.py --serial         # one process, no xdist workers

Prints one Markdown table: per area (the README's "What the tests cover") and per test
module, the tests, their seconds (set-up, call and tear-down summed, so a shared fixture
counts where it is built), the slowest test, and the wall-clock time of the whole run. With
two workers the areas' seconds add up to about twice the wall-clock time. The machine's
load average is printed too: timings taken while other work competes for the CPU are not
comparable.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PARALLEL = ["-n", "auto", "--maxprocesses=2", "--dist", "loadscope", "--no-loadscope-reorder"]  # as the Makefile's
# the README's test areas, by test module (a module not listed is its own area)
AREAS = {
    "library": ["test_losses", "test_metrics", "test_data", "test_experiment", "test_bootstrap",
                "test_cascade", "test_concept_map", "test_custom_loss", "test_plotting",
                "test_pretrain", "test_proxy", "test_selection", "test_science"],
    "lessons": ["test_lessons"],
    "exercises": ["test_exercises", "test_fair_variants"],
    "autograder": ["test_grade", "test_grade_parts", "test_kernel_client", "test_export"],
    "hub": ["test_hub"],
    "browser": ["test_browser"],
    "Jupyter set-up": ["test_extensions"],
    "newcomer": ["test_newcomer", "test_readme_commands"],
    "repository": ["test_repo"],
    "layout": ["test_layout", "test_makefile", "test_install"],
}
AREA_OF = {module: area for area, modules in AREAS.items() for module in modules}


def run_suite(pytest_args: list[str], serial: bool) -> tuple[list[dict], float, int]:
    """Run pytest with a JUnit report; return its test cases, the wall time and the exit code."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.xml"
        cmd = [sys.executable, "-m", "pytest", *([] if serial else PARALLEL), "-q",
               "-p", "no:cacheprovider", f"--junitxml={report}",
               "-o", "junit_duration_report=total", *pytest_args]
        print("$", " ".join(cmd), flush=True)
        started = time.monotonic()
        code = subprocess.run(cmd, cwd=REPO).returncode
        wall = time.monotonic() - started
        cases = []
        if report.exists():
            for case in ET.parse(report).getroot().iter("testcase"):
                outcome = ("failed" if case.find("failure") is not None
                           or case.find("error") is not None
                           else "skipped" if case.find("skipped") is not None else "passed")
                cases.append({"classname": case.get("classname", ""), "name": case.get("name", ""),
                              "seconds": float(case.get("time") or 0), "outcome": outcome})
    return cases, wall, code


def module_of(classname: str) -> str:
    """`tests.test_grade` or `tests.test_grade.TestX` -> `test_grade`."""
    parts = classname.split(".")
    return next((p for p in parts if p.startswith("test_")), classname)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serial", action="store_true", help="run without xdist workers")
    args, pytest_args = parser.parse_known_args(argv)
    load_before = os.getloadavg()[0]
    cases, wall, code = run_suite(pytest_args, args.serial)
    load_after = os.getloadavg()[0]

    by_module = defaultdict(list)
    for case in cases:
        by_module[module_of(case["classname"])].append(case)
    by_area = defaultdict(list)
    for module, module_cases in by_module.items():
        by_area[AREA_OF.get(module, module)].append(module)

    total = sum(c["seconds"] for c in cases)
    print(f"\n## Test time per area ({os.cpu_count()} CPUs, "
          f"{'serial' if args.serial else 'as make test: up to 2 xdist workers'})\n")
    print("| area | module | tests | seconds | share | slowest test (s) |")
    print("|---|---|---:|---:|---:|---|")
    for area in sorted(by_area, key=lambda a: -sum(c["seconds"] for m in by_area[a]
                                                   for c in by_module[m])):
        modules = sorted(by_area[area], key=lambda m: -sum(c["seconds"] for c in by_module[m]))
        area_cases = [c for m in modules for c in by_module[m]]
        area_s = sum(c["seconds"] for c in area_cases)
        print(f"| **{area}** | | {len(area_cases)} | **{area_s:.0f}** | "
              f"{area_s / total:.0%} | |" if total else f"| **{area}** | | 0 | 0 | | |")
        for module in modules:
            module_cases = by_module[module]
            seconds = sum(c["seconds"] for c in module_cases)
            slowest = max(module_cases, key=lambda c: c["seconds"])
            print(f"| | {module} | {len(module_cases)} | {seconds:.0f} | "
                  f"{seconds / total:.0%} | {slowest['name']} ({slowest['seconds']:.0f}) |"
                  if total else f"| | {module} | {len(module_cases)} | 0 | | |")
    outcomes = defaultdict(int)
    for case in cases:
        outcomes[case["outcome"]] += 1
    print(f"\n{len(cases)} tests ({', '.join(f'{n} {k}' for k, n in sorted(outcomes.items()))}); "
          f"{total:.0f} s of test time in {wall:.0f} s wall-clock (pytest exit code {code}); "
          f"1-minute load average {load_before:.1f} before, {load_after:.1f} after "
          f"(above {os.cpu_count()} means the CPU was shared)")
    return code


if __name__ == "__main__":
    sys.exit(main())
