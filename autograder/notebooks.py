"""Run and check the lesson notebooks in ``lessons/``.

Used by ``tests/course/test_lessons.py`` and ``benchmarks/lesson_times.py``; contributors use the
command line to store a lesson the way the repository expects (no outputs, normalised
metadata) after editing it in JupyterLab:

    .venv/bin/python -m autograder.notebooks strip lessons/*.ipynb
    .venv/bin/python -m autograder.notebooks check lessons/*.ipynb
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

LESSONS_DIR = Path(__file__).resolve().parent.parent / "lessons"
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
NOTEBOOK_METADATA = {"kernelspec": KERNELSPEC, "language_info": {"name": "python"}}
# cell metadata a stored lesson may keep; everything else is editor state
ALLOWED_CELL_METADATA = {"tags"}


def lesson_paths(directory: Path = LESSONS_DIR) -> list[Path]:
    """Every lesson notebook, in course order (file names start with the lesson number)."""
    return sorted(Path(directory).glob("*.ipynb"))


def execute(path, timeout: int = 600):
    """Run ``path`` top to bottom on a fresh ``python3`` kernel, in the lesson's folder.

    Returns ``(notebook with outputs, seconds)``. ``timeout`` is per cell. Raises nbclient's
    ``CellExecutionError`` when a cell fails."""
    import nbformat
    from autograder.kernel_client import NotebookClient

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    return nb, time.perf_counter() - start


def _bad_outputs(outputs, where: str) -> list[str]:
    found = []
    for out in outputs:
        kind = out.get("output_type")
        if kind == "error":
            found.append(f"{where}: {out.get('ename')}: {out.get('evalue')}")
        elif kind == "stream" and out.get("name") == "stderr":
            text = out.get("text", "")
            found.append(f"{where}: stderr: {text.strip()[:500]}")
    return found


def output_problems(nb) -> list[str]:
    """Error outputs and anything written to stderr, in cells and in widget outputs."""
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            first = (cell.source.splitlines() or [""])[0][:60]
            found += _bad_outputs(cell.get("outputs", []), f"cell {i} ({first!r})")
    # output captured by widgets (e.g. an ipywidgets.interactive callback) lives in the
    # notebook's widget state, not in the cells
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    for model_id, model in state.get("state", {}).items():
        outputs = model.get("state", {}).get("outputs", [])
        found += _bad_outputs(outputs, f"widget {model_id[:8]}")
    return found


def hygiene_problems(nb) -> list[str]:
    """How a notebook differs from the stored form: no outputs or execution counts,
    normalised notebook metadata, no editor state in cell metadata."""
    found = []
    if nb.nbformat != 4:
        found.append(f"nbformat {nb.nbformat}, expected 4")
    if dict(nb.metadata) != NOTEBOOK_METADATA:
        found.append(f"notebook metadata is {dict(nb.metadata)}, expected {NOTEBOOK_METADATA}")
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            if cell.get("outputs"):
                found.append(f"cell {i} carries outputs")
            if cell.get("execution_count") is not None:
                found.append(f"cell {i} carries execution count {cell.execution_count}")
        extra = set(cell.get("metadata", {})) - ALLOWED_CELL_METADATA
        if extra:
            found.append(f"cell {i} carries metadata {sorted(extra)}")
        if cell.get("attachments"):
            found.append(f"cell {i} carries attachments")
    return found


def strip(nb, keep=ALLOWED_CELL_METADATA):
    """Return ``nb`` in stored form (see ``hygiene_problems``), keeping the cell metadata keys
    ``keep``; cell ids and sources are kept."""
    import nbformat

    nb.metadata = nbformat.from_dict(NOTEBOOK_METADATA)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.metadata = nbformat.from_dict(
            {k: v for k, v in cell.get("metadata", {}).items() if k in keep})
        if "attachments" in cell and not cell.attachments:
            del cell["attachments"]
    return nb


def main(argv=None) -> int:
    import nbformat

    parser = argparse.ArgumentParser(prog="python -m autograder.notebooks", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["strip", "check"],
                        help="strip: rewrite in stored form; check: report what is not")
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks (default: every lesson in lessons/)")
    args = parser.parse_args(argv)
    status = 0
    for path in args.notebooks or lesson_paths():
        try:
            nb = nbformat.read(path, as_version=4)
        except (OSError, ValueError) as exc:
            print(f"{path}: cannot read it as a notebook ({exc})", file=sys.stderr)
            status = 1
            continue
        if args.action == "strip":
            nbformat.validate(strip(nb))
            Path(path).write_text(nbformat.writes(nb) + "\n")
            print(f"{path}: stripped")
        else:
            problems = hygiene_problems(nb)
            print(f"{path}: " + ("clean" if not problems else "; ".join(problems)))
            status |= bool(problems)
    return status


if __name__ == "__main__":
    sys.exit(main())
