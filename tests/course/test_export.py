"""`w2s export --format canvas`: grades.csv and a roster in, Canvas' gradebook import CSV out.

Canvas' gradebook import (Grades > Import) reads the columns its own export writes: Student,
ID, SIS User ID, SIS Login ID and Section, then one column per assignment; it matches rows by
SIS User ID or SIS Login ID, and skips the "Points Possible" row under the header.
"""

import csv
import subprocess

from conftest import BIN

CANVAS_HEADER = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]

ROSTER = """username,role,name,sis_user_id,sis_login_id,section
w2s-instructor,instructor,Course Instructor,,,
w2s-alice,student,"Example, Alice",SIS-1001,alice@example.edu,Section 1
w2s-bob,student,"Example, Bob",SIS-1002,bob@example.edu,Section 2
w2s-carol,student,"Example, Carol",SIS-1003,carol@example.edu,Section 2
"""

GRADES = """student,assignment,score,max_score
w2s-alice,ps1-measuring-weak-to-strong,20,20
w2s-bob,ps1-measuring-weak-to-strong,14.5,20
w2s-alice,ps2-weak-to-strong-pipeline,7,10
"""


def export(tmp_path, roster=ROSTER, grades=GRADES):
    (tmp_path / "roster.csv").write_text(roster)
    (tmp_path / "grades.csv").write_text(grades)
    out = tmp_path / "canvas.csv"
    done = subprocess.run([str(BIN / "w2s"), "export", "--format", "canvas",
                           "--grades", str(tmp_path / "grades.csv"),
                           "--roster", str(tmp_path / "roster.csv"), "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    return done, out


def test_canvas_csv_has_canvas_columns_and_one_column_per_assignment(tmp_path):
    done, out = export(tmp_path)
    assert done.returncode == 0, done.stderr
    rows = list(csv.reader(out.open(newline="")))
    header = rows[0]
    assert header[:5] == CANVAS_HEADER
    assert header[5:] == ["ps1-measuring-weak-to-strong", "ps2-weak-to-strong-pipeline"]
    assert rows[1][0].strip() == "Points Possible" and rows[1][5:] == ["20", "10"]
    by_sis = {r[2]: dict(zip(header, r)) for r in rows[2:]}
    assert set(by_sis) == {"SIS-1001", "SIS-1002", "SIS-1003"}, "students only, no instructor"
    alice, bob, carol = by_sis["SIS-1001"], by_sis["SIS-1002"], by_sis["SIS-1003"]
    assert alice["Student"] == "Example, Alice" and alice["SIS Login ID"] == "alice@example.edu"
    assert alice["ps1-measuring-weak-to-strong"] == "20" and alice["ps2-weak-to-strong-pipeline"] == "7"
    assert bob["Section"] == "Section 2" and bob["ps1-measuring-weak-to-strong"] == "14.5"
    assert bob["ps2-weak-to-strong-pipeline"] == "", "no grade: an empty cell Canvas leaves alone"
    assert carol["ps1-measuring-weak-to-strong"] == "" and carol["ps2-weak-to-strong-pipeline"] == ""
    assert all(len(r) == len(header) for r in rows)


def test_a_graded_student_missing_from_the_roster_is_a_clear_error(tmp_path):
    done, out = export(tmp_path, grades=GRADES + "w2s-dave,ps1-measuring-weak-to-strong,3,20\n")
    assert done.returncode == 2 and not out.exists()
    assert "w2s-dave" in done.stderr and "roster" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_roster_without_sis_ids_is_a_clear_error(tmp_path):
    done, _ = export(tmp_path, roster="username,name\nw2s-alice,Alice\n")
    assert done.returncode == 2 and "sis_user_id" in done.stderr
    assert "Traceback" not in done.stderr
