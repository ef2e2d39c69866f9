"""Put a submitted notebook back into the shape the instructor released, keeping the answers.

A student can edit, delete, duplicate or move any cell and rewrite any metadata. The graded
notebook is therefore rebuilt from the released notebook: every nbgrader cell (locked, test
and answer cells) comes from the release, in the release's order and with the release's
metadata (points, grade and lock flags); each answer cell takes the student's content (the
last copy, as nbgrader's ``DeduplicateIds`` does); and the student's other cells (their own
cells and the release's unlocked plain cells, which are theirs to edit) stay right after the
nbgrader cell they followed.
Then nbgrader's own sanitising preprocessors run on the result - ``OverwriteCells`` puts the
hidden tests back from the gradebook - so the grade comes from nbgrader's rules.
"""

from __future__ import annotations

import copy

from nbconvert.exporters.exporter import ResourcesDict
from nbformat import NotebookNode
from nbgrader.utils import is_solution
from traitlets.config import Config

NOTEBOOK_METADATA = ("kernelspec", "language_info")


def grade_id(cell: NotebookNode) -> str | None:
    meta = cell.get("metadata", {}).get("nbgrader")
    if not isinstance(meta, dict):
        return None
    gid = meta.get("grade_id")
    return gid if isinstance(gid, str) else None


def rebuild(submitted: NotebookNode, release: NotebookNode) -> NotebookNode:
    """The release notebook with the student's answers and added cells put in."""
    release_ids = {grade_id(c): c for c in release.cells if grade_id(c)}
    answers: dict[str, NotebookNode] = {}
    added_after: dict[str | None, list[NotebookNode]] = {}
    anchor: str | None = None
    for cell in submitted.cells:
        gid = grade_id(cell)
        if gid in release_ids:
            anchor = gid
            if is_solution(release_ids[gid]):
                answers[gid] = cell
        elif cell.get("cell_type") in ("code", "markdown", "raw"):
            added = copy.deepcopy(cell)
            added.metadata.pop("nbgrader", None)
            added_after.setdefault(anchor, []).append(added)

    cells = list(added_after.get(None, []))
    for cell in release.cells:
        gid = grade_id(cell)
        if gid is None:
            continue  # a plain cell: the student's copy (if they kept it) is already placed
        cell = copy.deepcopy(cell)
        if gid in answers:
            source = answers[gid].get("source", "")
            cell.source = "".join(map(str, source)) if isinstance(source, list) else str(source)
            if cell.cell_type == "markdown" and "attachments" in answers[gid]:
                cell.attachments = copy.deepcopy(answers[gid].attachments)
        cells.append(cell)
        cells += added_after.get(gid, [])
    for cell in cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb = copy.deepcopy(release)
    nb.cells = cells
    for key in NOTEBOOK_METADATA:
        if key in release.metadata:
            nb.metadata[key] = copy.deepcopy(release.metadata[key])
    return nb


def sanitize(nb: NotebookNode, resources: ResourcesDict) -> NotebookNode:
    """nbgrader's autograde sanitising steps (restore locked cells and hidden tests)."""
    from nbgrader.preprocessors import (CheckCellMetadata, ClearOutput, DeduplicateIds,
                                        OverwriteCells, OverwriteKernelspec)

    config = Config()
    config.OverwriteCells.add_missing_cells = True
    for preprocessor in (ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteCells,
                         CheckCellMetadata):
        nb, resources = preprocessor(config=config).preprocess(nb, resources)
    return nb
