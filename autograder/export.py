"""Write the grades of `w2s grade` as a CSV that Canvas' gradebook import accepts.

Canvas matches a row to a student by its SIS User ID or SIS Login ID, which come from a
roster file (hub/roster.csv has the columns: username, role, name, sis_user_id,
sis_login_id, section). The file has Canvas' own columns - Student, ID, SIS User ID, SIS
Login ID, Section - then one column per assignment, and a "Points Possible" row under the
header, as Canvas' gradebook export has it. A student with no grade for an assignment gets an
empty cell, which Canvas leaves unchanged. Run `w2s grade` again after hand-grading: its
grades.csv then holds the hand-graded scores.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

CANVAS_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
POINTS_POSSIBLE = "    Points Possible"  # how Canvas' own export labels that row
ROSTER_COLUMNS = {"username", "sis_user_id"}


class ExportError(RuntimeError):
    """A problem with the input files, explained for the instructor."""


def add_arguments(parser) -> None:
    parser.add_argument("--format", choices=["canvas"], default="canvas",
                        help="the gradebook to write for (default canvas)")
    parser.add_argument("--grades", type=Path, default=Path("grades_out/grades.csv"),
                        metavar="CSV", help="grades.csv written by `w2s grade` "
                                            "(default grades_out/grades.csv)")
    parser.add_argument("--roster", type=Path, required=True, metavar="CSV",
                        help="roster with username and sis_user_id columns (and optionally "
                             "name, sis_login_id, section, role), e.g. hub/roster.csv")
    parser.add_argument("--out", type=Path, default=Path("grades_out/canvas.csv"), metavar="CSV",
                        help="where to write the Canvas CSV (default grades_out/canvas.csv)")


def run(args) -> int:
    try:
        rows = canvas_rows(read_csv(args.grades, {"student", "assignment", "score", "max_score"}),
                           read_csv(args.roster, ROSTER_COLUMNS))
        write_rows(args.out, rows)
    except ExportError as exc:
        print(f"w2s export: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}: {len(rows) - 2} student(s), {len(rows[0]) - len(CANVAS_COLUMNS)} "
          "assignment(s), for Canvas > Grades > Import")
    return 0


def read_csv(path: Path, required: set[str]) -> list[dict]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            missing = required - set(reader.fieldnames or [])
            rows = list(reader)
    except OSError as exc:
        raise ExportError(f"cannot read {path}: {exc.strerror}") from None
    if missing:
        raise ExportError(f"{path} lacks the column(s) {', '.join(sorted(missing))}; "
                          f"its header must name {', '.join(sorted(required))}")
    return rows


def canvas_rows(grades: list[dict], roster: list[dict]) -> list[list[str]]:
    """Header, Points Possible and one row per roster student, as lists of cells."""
    students = [r for r in roster if (r.get("role") or "student").strip() == "student"]
    known = {r["username"].strip() for r in students}
    unknown = sorted({g["student"] for g in grades} - known)
    if unknown:
        raise ExportError(f"{', '.join(unknown)} have grades but are not students in the roster; "
                          "add a row for each (username, sis_user_id, ...) so Canvas can match them")
    no_id = [r["username"] for r in students if not r["sis_user_id"].strip()
             and not (r.get("sis_login_id") or "").strip()]
    if no_id:
        raise ExportError(f"{', '.join(no_id)} have neither a sis_user_id nor a sis_login_id in "
                          "the roster, so Canvas cannot match their rows")
    assignments = sorted({g["assignment"] for g in grades})
    points = {}
    for g in grades:
        points.setdefault(g["assignment"], g["max_score"])
    score = {(g["student"], g["assignment"]): g["score"] for g in grades}
    rows = [CANVAS_COLUMNS + assignments,
            [POINTS_POSSIBLE, "", "", "", ""] + [points[a] for a in assignments]]
    for r in students:
        name = r["username"].strip()
        rows.append([(r.get("name") or name).strip(), "", r["sis_user_id"].strip(),
                     (r.get("sis_login_id") or "").strip(), (r.get("section") or "").strip()]
                    + [score.get((name, a), "") for a in assignments])
    return rows


def write_rows(path: Path, rows: list[list[str]]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows(rows)
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror}. Choose a writable --out.") from None
