"""``reportcard load``: a directory of CSV / JSON Lines files into the LMS tables."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, Table, func, insert, select

from reportcard.cli import main
from reportcard.db import activity_tables, learning_tables
from reportcard.db.learning_tables import assignments, scores, submissions
from reportcard.db.tables import (
    account_ancestors,
    accounts,
    user_account_associations,
)
from reportcard.lms.loader import LoadFailed, load_directory, loadable_tables

# A root with one sub-account, one course, a teacher and two students; then their work.
CORE = {
    "accounts.csv": (
        "id,name,parent_account_id,root_account_id,uuid,default_time_zone,domain\n"
        "1,Root U,,,u-1,UTC,root.example.edu\n"
        "2,Sub,1,1,u-2,UTC,\n"
    ),
    "enrollment_terms.csv": "id,root_account_id,name\n1,1,Default Term\n",
    "courses.csv": (
        "id,root_account_id,account_id,enrollment_term_id,name,workflow_state\n"
        "1,1,2,1,Algebra,available\n"
    ),
    "course_sections.csv": "id,root_account_id,course_id,name\n1,1,1,Algebra 1\n",
    "users.jsonl": (
        '{"id": 1, "name": "Ann Archer", "sortable_name": "Archer, Ann", "uuid": "a"}\n'
        "\n"
        '{"id": 2, "name": "Ben Baker", "sortable_name": "Baker, Ben", "uuid": "b"}\n'
    ),
    "pseudonyms.csv": ("id,user_id,account_id,unique_id,sis_user_id\n1,1,1,ann,S1\n2,2,1,ben,S2\n"),
    "roles.csv": "id,name,base_role_type,built_in\n1,StudentEnrollment,StudentEnrollment,true\n",
    "enrollments.csv": (
        "id,root_account_id,user_id,course_id,course_section_id,role_id,type,workflow_state\n"
        "1,1,1,1,1,1,StudentEnrollment,active\n"
        "2,1,2,1,1,1,StudentEnrollment,active\n"
    ),
}
WORK = {
    "assignments.jsonl": (
        '{"id": 1, "course_id": 1, "title": "Homework", "points_possible": 10, '
        '"due_at": "2024-03-01T10:00:00-07:00"}\n'
    ),
    "submissions.csv": (
        "id,assignment_id,user_id,submitted_at,score,workflow_state\n"
        "1,1,1,2024-02-28T18:30:00Z,9.5,graded\n"
        "2,1,2,,,unsubmitted\n"
    ),
    "scores.csv": (
        "id,enrollment_id,course_score,current_score,final_score\n1,1,yes,95,90.5\n2,2,1,,\n"
    ),
    "learning_outcome_groups.csv": (
        "id,context_type,context_id,parent_group_id,title\n"
        "1,Account,1,,Root U\n"
        "2,Account,1,1,Math\n"
        "3,Account,1,2,Algebra\n"
    ),
    "account_settings.csv": (
        "account_id,name,value\n1,include_integration_ids_in_gradebook_exports,true\n"
    ),
}


def write(path: Path, files: dict[str, str]) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for name, body in files.items():
        (path / name).write_text(body)
    return path


def count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def errors_of(engine: Engine, path: Path) -> list[str]:
    with pytest.raises(LoadFailed) as failed:
        load_directory(engine, path)
    return [str(e) for e in failed.value.errors]


# ---------------------------------------------------------------- what can be loaded


def test_loadable_tables_cover_the_data_modules_and_nothing_else() -> None:
    names = set(loadable_tables())
    for module in (learning_tables, activity_tables):
        tables = {v.name for v in vars(module).values() if isinstance(v, Table)}
        assert tables and tables <= names
    refused = {
        "account_ancestors",
        "user_account_associations",
        "account_reports",
        "report_shards",
        "attachments",
        "access_tokens",
        "sis_batches",
        "sis_imports",
    }
    assert not names & refused
    assert {"accounts", "users", "pseudonyms", "enrollments", "courses"} <= names


# ---------------------------------------------------------------- a good load


def test_load_everything_then_run_a_report(engine: Engine, tmp_path: Path) -> None:
    path = write(tmp_path / "data", {**CORE, **WORK})
    result = load_directory(engine, path)
    assert result.roots == [1]
    assert list(result.counts) == [t for t in loadable_tables() if t in result.counts]
    assert result.counts["enrollments"] == 2 and result.counts["learning_outcome_groups"] == 3
    assert result.counts["users"] == 2  # the blank line is skipped
    with engine.connect() as conn:
        hw = conn.execute(select(assignments)).one()
        assert hw.due_at == datetime(2024, 3, 1, 17, 0)  # the offset is converted to UTC
        assert hw.workflow_state == "published"  # the column's default
        assert hw.points_possible == 10.0
        assert isinstance(hw.created_at, datetime)  # the load time
        sub = conn.execute(select(submissions).order_by(submissions.c.id)).all()
        assert [(s.submitted_at, s.score) for s in sub] == [
            (datetime(2024, 2, 28, 18, 30), 9.5),
            (None, None),
        ]
        sc = conn.execute(
            select(scores.c.course_score, scores.c.current_score).order_by(scores.c.id)
        ).all()
        assert [(s.course_score, s.current_score) for s in sc] == [(True, 95.0), (True, None)]
        # The derived tables were rebuilt.
        assert conn.execute(
            select(account_ancestors.c.ancestor_id)
            .where(account_ancestors.c.account_id == 2)
            .order_by(account_ancestors.c.depth)
        ).scalars().all() == [2, 1]
        assert (
            conn.execute(
                select(func.count()).where(user_account_associations.c.account_id == 2)
            ).scalar_one()
            == 2
        )
    # New rows after a load get fresh ids (PostgreSQL sequences were moved on).
    with engine.begin() as conn:
        new_id = conn.execute(
            insert(assignments).values(
                course_id=1,
                title="Later",
                created_at=datetime(2024, 1, 1),
                updated_at=datetime(2024, 1, 1),
            )
        ).inserted_primary_key
    assert new_id is not None and new_id[0] == 2

    from reportcard.runs.inline import run_report
    from reportcard.settings import Settings
    from reportcard.storage.local import LocalStorage

    storage = LocalStorage(tmp_path / "files")
    run = run_report(
        engine, storage, Settings(data_dir=tmp_path), account_id=1, report_type="grade_export_csv"
    )
    assert run.workflow_state == "complete", run.error_detail
    with engine.connect() as conn:
        from reportcard.db.tables import attachments

        key = conn.execute(
            select(attachments.c.storage_key).where(attachments.c.id == run.attachment_id)
        ).scalar_one()
    with storage.open_read(key) as fh:
        assert fh.read().decode() == (
            "student name,student id,student sis,student integration id,course,course id,"
            "course sis,section,section id,section sis,term,term id,term sis,current score,"
            "final score,enrollment state,unposted current score,unposted final score,"
            "current grade,final grade,unposted current grade,unposted final grade\n"
            "Ann Archer,1,S1,,Algebra,1,,Algebra 1,1,,Default Term,1,,95.0,90.5,active,,,,,,\n"
            "Ben Baker,2,S2,,Algebra,1,,Algebra 1,1,,Default Term,1,,,,active,,,,,,\n"
        )


def test_dry_run_keeps_nothing(engine: Engine, tmp_path: Path) -> None:
    result = load_directory(engine, write(tmp_path / "d", CORE), dry_run=True)
    assert result.dry_run and result.counts["accounts"] == 2
    assert count(engine, accounts) == 0
    assert count(engine, account_ancestors) == 0


def test_data_can_be_added_to_an_existing_institution(engine: Engine, tmp_path: Path) -> None:
    load_directory(engine, write(tmp_path / "core", CORE))
    result = load_directory(engine, write(tmp_path / "work", WORK))
    assert result.roots == []  # no tree input: nothing to refresh
    assert count(engine, submissions) == 2


# ---------------------------------------------------------------- bad input


def test_bad_values_are_reported_with_file_line_and_reason(engine: Engine, tmp_path: Path) -> None:
    load_directory(engine, write(tmp_path / "core", CORE))
    bad = {
        "assignments.csv": (
            "id,course_id,title,points_possible,due_at\n"
            "5,1,Fine,1.5,2024-01-01\n"
            "6,one,Typo,x,yesterday\n"
            "7,99,Orphan,,\n"
            "8,1,,,\n"
            f"9,1,{'t' * 256},,\n"
            "10,1,Short row\n"
        ),
    }
    assert errors_of(engine, write(tmp_path / "bad", bad)) == [
        "assignments.csv:3: course_id: expected an integer, got 'one'",
        "assignments.csv:3: points_possible: expected a number, got 'x'",
        "assignments.csv:3: due_at: expected an ISO 8601 time, got 'yesterday'",
        "assignments.csv:5: title: a value is required",
        "assignments.csv:6: title: longer than 255 characters",
        "assignments.csv:7: expected 5 fields, got 3",
        "assignments.csv:4: course_id: no courses row with id 99",
    ]
    assert count(engine, assignments) == 0


def test_header_problems(engine: Engine, tmp_path: Path) -> None:
    bad = {"accounts.csv": "id,colour\n1,blue\n"}
    assert errors_of(engine, write(tmp_path / "bad", bad)) == [
        "accounts.csv:1: unknown column(s): colour",
        "accounts.csv:1: missing required column(s): name",
    ]


def test_json_lines_problems(engine: Engine, tmp_path: Path) -> None:
    load_directory(engine, write(tmp_path / "core", CORE))
    bad = {
        "scores.jsonl": (
            '{"id": 10, "enrollment_id": 1, "course_score": "maybe"}\n'
            "{not json}\n"
            "[1, 2]\n"
            '{"id": 11, "enrollment_id": 2, "grade": "A"}\n'
            '{"id": 12, "enrollment_id": true}\n'
            '{"id": 13}\n'
        )
    }
    assert errors_of(engine, write(tmp_path / "bad", bad)) == [
        "scores.jsonl:1: course_score: expected true or false, got 'maybe'",
        "scores.jsonl:2: invalid JSON: Expecting property name enclosed in double quotes",
        "scores.jsonl:3: expected a JSON object",
        "scores.jsonl:4: unknown column(s): grade",
        "scores.jsonl:5: enrollment_id: expected an integer",
        "scores.jsonl:6: enrollment_id: a value is required",
    ]


def test_ids_and_references(engine: Engine, tmp_path: Path) -> None:
    load_directory(engine, write(tmp_path / "core", CORE))
    bad = {
        # A parent must come first; a repeated id; an id already loaded; a bad context.
        "learning_outcome_groups.csv": (
            "id,context_type,context_id,parent_group_id,title\n"
            "1,Account,1,,Root\n"
            "2,Account,1,3,Child first\n"
            "3,Account,1,1,Parent later\n"
            "3,Account,1,1,Again\n"
            "4,Planet,1,,Nowhere\n"
            "5,Course,42,,No such course\n"
        ),
    }
    assert errors_of(engine, write(tmp_path / "bad", bad)) == [
        "learning_outcome_groups.csv:5: id 3 is repeated (line 4)",
        "learning_outcome_groups.csv:6: context_type: expected one of Account, Course, User, "
        "got 'Planet'",
        "learning_outcome_groups.csv:3: parent_group_id: no learning_outcome_groups row with id 3",
        "learning_outcome_groups.csv:7: context_id: no courses row with id 42",
    ]
    again = {"users.csv": "id,name,uuid\n1,Ann again,x\n"}
    assert errors_of(engine, write(tmp_path / "again", again)) == [
        "users.csv:2: id 1 already exists in users"
    ]


def test_an_error_rolls_back_every_file(engine: Engine, tmp_path: Path) -> None:
    files = {**CORE, "enrollments.csv": CORE["enrollments.csv"] + "3,1,7,1,1,1,x,active\n"}
    assert errors_of(engine, write(tmp_path / "bad", files)) == [
        "enrollments.csv:4: user_id: no users row with id 7"
    ]
    assert count(engine, accounts) == 0


def test_database_constraints_are_reported(engine: Engine, tmp_path: Path) -> None:
    load_directory(engine, write(tmp_path / "core", {**CORE, **WORK}))
    dup = {"submissions.csv": "id,assignment_id,user_id\n3,1,1\n"}  # (assignment, user) again
    (error,) = errors_of(engine, write(tmp_path / "dup", dup))
    assert error.startswith("submissions.csv:2: rejected by the database (lines 2-2): ")


def test_files_that_cannot_be_loaded(engine: Engine, tmp_path: Path) -> None:
    files = {
        "account_reports.csv": "id\n",
        "user_account_associations.jsonl": "",
        "gradebook.csv": "id\n",
        "users.csv": "id,name,uuid\n",
        "users.jsonl": "",
        "README.txt": "not data",
    }
    assert errors_of(engine, write(tmp_path / "bad", files)) == [
        "account_reports.csv:0: account_reports is not loadable (derived, run or credential data)",
        "gradebook.csv:0: no table named gradebook",
        "user_account_associations.jsonl:0: user_account_associations is not loadable "
        "(derived, run or credential data)",
        "users.jsonl:0: users is also given as users.csv",
    ]


def test_too_many_errors_stop_early(engine: Engine, tmp_path: Path) -> None:
    rows = "".join(f"a{i},x,U{i}\n" for i in range(1, 200))
    errors = errors_of(engine, write(tmp_path / "bad", {"users.csv": "id,name,uuid\n" + rows}))
    assert len(errors) == 50
    assert errors[-1] == "users.csv:51: id: expected an integer, got 'a50'"


def test_json_column_in_csv_and_jsonl(engine: Engine, tmp_path: Path) -> None:
    keys_csv = {
        "developer_keys.csv": 'id,name,scopes\n1,Key,"[""url:GET|/api/v1/courses""]"\n2,Bad,[oops\n'
    }
    assert errors_of(engine, write(tmp_path / "bad", keys_csv)) == [
        "developer_keys.csv:3: scopes: expected JSON, got '[oops'"
    ]
    good = {"developer_keys.jsonl": json.dumps({"id": 1, "name": "K", "scopes": ["a"]}) + "\n"}
    assert load_directory(engine, write(tmp_path / "good", good)).counts == {"developer_keys": 1}


# ---------------------------------------------------------------- the command


def test_cli(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPORTCARD_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("REPORTCARD_DATA_DIR", str(tmp_path))
    from reportcard.settings import get_settings

    get_settings.cache_clear()
    runner = CliRunner()
    ok = runner.invoke(main, ["load", str(write(tmp_path / "core", CORE)), "--dry-run"])
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith("validated (dry run, nothing kept): accounts=2, ")
    ok = runner.invoke(main, ["load", str(tmp_path / "core")])
    assert ok.exit_code == 0, ok.output
    assert ok.output.splitlines()[-1] == "refreshed root account(s): 1"
    bad = runner.invoke(main, ["load", str(write(tmp_path / "bad", {"users.csv": "id,uuid\n"}))])
    assert bad.exit_code == 1
    assert "users.csv:1: missing required column(s): name" in bad.output
    get_settings.cache_clear()
