"""``cd2 import`` on hand-written CD2 files (tests/lms/cd2/files.py, institution.py): every format,
upserts, deletes, placeholders, NULL vs empty, unknown columns, bad records, snapshots; then
``provisioning_csv`` and ``sis_export_csv`` on the imported institution, row by row."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, text

from reportcard.lms.cd2.errors import Cd2Error
from reportcard.lms.cd2.importer import import_paths
from reportcard.rubyfloat import ruby_float
from tests.lms.cd2 import files as f
from tests.lms.cd2.files import TS0, TS1, TS2
from tests.lms.cd2.institution import STAMP, write_snapshot, write_submissions
from tests.reports.institution import run_file
from tests.stored_names import ODD_SORTABLE, assert_names_stored
from tests.stored_score_text import ODD_SCORES, assert_score_text


def rows(engine: Engine, sql: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql)).all()]


@pytest.fixture
def loaded(engine: Engine, tmp_path: Path) -> Engine:
    import_paths(engine, [write_snapshot(tmp_path)], snapshot=True)
    return engine


def users(engine: Engine) -> list[tuple[Any, ...]]:
    return rows(
        engine,
        "SELECT id, name, sortable_name, short_name, pronouns, workflow_state FROM users"
        " WHERE id >= 100 ORDER BY id",
    )


# ---------------------------------------------------------------- the snapshot, every format
def test_snapshot_in_every_format(loaded: Engine) -> None:
    assert rows(
        loaded,
        "SELECT id, name, parent_account_id, root_account_id, default_time_zone, sis_source_id,"
        " uuid FROM accounts ORDER BY id",
    ) == [
        (1, "Example U", None, None, "Mountain Time (US & Canada)", None, "uuid-root"),
        (2, "Art, Design", 1, 1, "UTC", "ART", "uuid-art"),  # CSV-quoted comma in JSONL
        (3, "Science\tLab", 1, 1, "UTC", "", "uuid-sci"),  # a tab; "" stays empty
    ]
    # TSV snapshot without meta.action; the default term has no flag in CD2.
    assert rows(
        loaded,
        "SELECT id, name, sis_source_id, sis_batch_id, is_default FROM enrollment_terms"
        " ORDER BY id",
    ) == [(1, "Default Term", None, None, True), (5, "Fall 2024", "F24", 9, False)]
    # Gzip CSV, expanded settings; CSV condensed (no settings at all) for sections.
    assert rows(
        loaded,
        "SELECT id, account_id, enrollment_term_id, name, course_format, workflow_state,"
        " sis_source_id FROM courses ORDER BY id",
    ) == [
        (10, 2, 5, "Drawing I", "on_campus", "available", "ART101"),
        (11, 3, 1, "Lab Safety", None, "claimed", None),
    ]
    # TSV condensed gzip: "" pronouns stay empty, a missing property is NULL.
    assert users(loaded) == [
        (100, "Ann Smith", "Smith, Ann", "Ann", "she/her", "registered"),
        (101, "Bob Jones", "Jones, Bob", "Bob Jones", "", "registered"),
        (102, "Test Student", "Student, Test", "Test Student", None, "registered"),
    ]
    # Parquet logins.
    assert rows(
        loaded,
        "SELECT id, user_id, account_id, unique_id, sis_user_id, integration_id"
        " FROM pseudonyms ORDER BY id",
    ) == [
        (200, 100, 1, "ann", "A1", "INT-A"),
        (201, 101, 1, "bob", None, None),
        (202, 102, 1, "testuser_102", None, None),
    ]
    assert rows(
        loaded,
        "SELECT id, root_account_id, built_in, workflow_state FROM roles WHERE id < 54 ORDER BY id",
    ) == [
        (50, 1, True, "active"),
        (51, 1, True, "active"),
        (52, 1, True, "active"),
        (53, 1, True, "active"),
    ]
    # Derived: the tree, associations, the test student.
    assert rows(
        loaded,
        "SELECT account_id, ancestor_id, depth FROM account_ancestors ORDER BY account_id, depth",
    ) == [(1, 1, 0), (2, 2, 0), (2, 1, 1), (3, 3, 0), (3, 1, 1)]
    assert rows(
        loaded,
        "SELECT user_id, account_id FROM user_account_associations ORDER BY user_id, account_id",
    ) == [(100, 1), (100, 2), (101, 1), (101, 2), (102, 1), (102, 2)]
    assert rows(loaded, "SELECT id FROM users WHERE is_test_student") == [(102,)]


def test_the_same_files_twice_change_nothing(loaded: Engine, tmp_path: Path) -> None:
    before = {t: rows(loaded, f"SELECT * FROM {t} ORDER BY 1") for t in ("users", "courses")}
    result = import_paths(loaded, [tmp_path / "snapshot"])
    assert {t.table: (t.upserted, t.deleted, t.unchanged) for t in result.tables}["users"] == (
        0,
        0,
        3,
    )
    assert all(t.upserted == 0 and t.deleted == 0 for t in result.tables)
    assert {t: rows(loaded, f"SELECT * FROM {t} ORDER BY 1") for t in before} == before


# ---------------------------------------------------------------- incrementals
@pytest.mark.parametrize("fold_share", [8, 0], ids=["own-bookkeeping", "recent-bookkeeping"])
def test_incremental_upserts_deletes_and_older_records(
    loaded: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fold_share: int
) -> None:
    """The same with the incrementals' bookkeeping (``cd2_rows_recent``) written, as on a big
    table (``FOLD_SHARE`` 0: always), and with the table's own (3 users: always)."""
    from reportcard.lms.cd2 import apply

    monkeypatch.setattr(apply, "FOLD_SHARE", fold_share)
    d = tmp_path / "inc1"
    f.write(
        d / "part-1.jsonl",
        f.jsonl(
            [
                {
                    "id": 100,
                    "ts": TS1,
                    "action": "U",
                    "name": "Ann Smith-Lee",
                    "sortable_name": "Smith-Lee, Ann",
                    "workflow_state": "registered",
                    "uuid": "uuid-ann",
                    **STAMP,
                },
                # older than what was applied: ignored
                {
                    "id": 101,
                    "ts": "2024-04-01T00:00:00Z",
                    "action": "U",
                    "name": "Old Bob",
                    "workflow_state": "registered",
                    **STAMP,
                },
                {
                    "id": 103,
                    "ts": TS1,
                    "action": "U",
                    "name": "New Person",
                    "workflow_state": "pre_registered",
                    **STAMP,
                },
                {"id": 999, "ts": TS1, "action": "D"},  # never seen: fine
            ]
        ),
    )
    # A second file of the same job: a newer delete of 103, in TSV with an unknown column.
    f.write(
        d / "part-2.tsv",
        f.tsv([{"id": 103, "ts": TS2, "action": "D", "brand_new_column": None}]),
    )
    result = import_paths(loaded, [d], table="users")
    (summary,) = result.tables
    # 103's upsert is superseded by its delete, and it was never applied: nothing to delete.
    # Unchanged: Bob's older record and 103's superseded upsert.
    assert (summary.records, summary.upserted, summary.deleted, summary.unchanged) == (5, 1, 0, 2)
    assert users(loaded)[:2] == [
        (100, "Ann Smith-Lee", "Smith-Lee, Ann", None, None, "registered"),
        (101, "Bob Jones", "Jones, Bob", "Bob Jones", "", "registered"),
    ]
    assert rows(loaded, "SELECT id FROM users WHERE id IN (103, 999)") == []
    # An older upsert of a purged key does not bring it back (the delete's tombstone).
    f.write(
        tmp_path / "inc2" / "u.csv",
        f.csv(
            [
                {
                    "id": 103,
                    "ts": TS1,
                    "action": "U",
                    "name": "Back?",
                    "workflow_state": "registered",
                    **STAMP,
                }
            ]
        ),
    )
    import_paths(loaded, [tmp_path / "inc2"], table="users")
    assert rows(loaded, "SELECT id FROM users WHERE id = 103") == []
    recent = rows(loaded, "SELECT key, deleted FROM cd2_rows_recent ORDER BY key")
    assert recent == ([(100, False), (103, True), (999, True)] if fold_share == 0 else [])
    with loaded.connect() as conn:
        state = conn.execute(
            text(
                "SELECT last_ts, root_account_id, last_mode FROM cd2_table_state"
                " WHERE table_name = 'users'"
            )
        ).one()
    assert str(state[0]).startswith("2024-05-03 04:00:00.25")
    assert (state[1], state[2]) == (1, "incremental")


def test_users_keep_their_stored_name_parts(loaded: Engine, tmp_path: Path) -> None:
    """The import computes users.first_name/last_name in SQL and splits in Python the names
    SQL leaves to it, on a snapshot and on an incremental (new users, renames, TSV too)."""
    assert assert_names_stored(loaded) >= 3
    odd = [
        {
            "id": 200 + i,
            "ts": TS1,
            "action": "U",
            "name": f"Odd {i}",
            "sortable_name": name,
            "workflow_state": "registered",
            **STAMP,
        }
        for i, name in enumerate(ODD_SORTABLE)
    ]
    renamed = {
        "id": 100,
        "ts": TS1,
        "action": "U",
        "name": "Ann Smith-Lee",
        "sortable_name": "Smith-Lee, Ann  Jr.",
        "workflow_state": "registered",
        **STAMP,
    }
    f.write(tmp_path / "inc" / "part-1.jsonl", f.jsonl([renamed, *odd[:6]]))
    f.write(tmp_path / "inc" / "part-2.tsv", f.tsv(odd[6:]))
    import_paths(loaded, [tmp_path / "inc"], table="users")
    assert assert_names_stored(loaded) >= 3 + len(ODD_SORTABLE)
    assert rows(
        loaded, "SELECT first_name, last_name FROM users WHERE id IN (100, 200) ORDER BY id"
    ) == [
        ("Ann", "Smith-Lee"),
        ("John", "Smith"),
    ]


def test_condensed_and_expanded_settings(loaded: Engine, tmp_path: Path) -> None:
    course = {
        "ts": TS1,
        "action": "U",
        "account_id": 2,
        "enrollment_term_id": 5,
        "workflow_state": "available",
        "template": False,
        **STAMP,
    }
    structs = {"settings": ("course_format", "hide_final_grade")}
    f.write(
        tmp_path / "c" / "courses" / "a.tsv.gz",
        f.tsv(
            [
                {
                    **course,
                    "id": 10,
                    "name": "Drawing I",
                    "settings": {"course_format": "online", "hide_final_grade": None},
                }
            ],
            condensed=True,
            structs=structs,
        ),
        gz=True,
    )
    f.write(
        tmp_path / "c" / "courses" / "b.tsv",
        f.tsv(
            [
                {
                    **course,
                    "id": 11,
                    "name": "Lab Safety",
                    "settings": {"course_format": "blended", "hide_final_grade": "true"},
                }
            ],
            structs=structs,
        ),
    )
    import_paths(loaded, [tmp_path / "c"])
    assert rows(loaded, "SELECT id, course_format FROM courses ORDER BY id") == [
        (10, "online"),
        (11, "blended"),
    ]


def test_placeholders_and_null_versus_empty(loaded: Engine, tmp_path: Path) -> None:
    f.write(
        tmp_path / "p" / "users.csv",
        f.csv(
            [
                {
                    "id": 100,
                    "ts": TS1,
                    "name": "NULL",
                    "sortable_name": None,
                    "short_name": "",
                    "pronouns": "__dap_oversized_truncated__",
                    "workflow_state": "__dap_unspecified__",
                    **STAMP,
                },
                {
                    "id": 101,
                    "ts": TS1,
                    "name": "Bob Jones",
                    "sortable_name": "Jones, Bob",
                    "short_name": "Bob",
                    "pronouns": "__cd2_oversized_truncated__",
                    "workflow_state": "registered",
                    **STAMP,
                },
            ]
        ),
    )
    f.write(
        tmp_path / "p" / "group_categories.jsonl",
        f.jsonl(
            [
                {
                    "id": 700,
                    "ts": TS1,
                    "name": "Projects",
                    "context_id": 10,
                    "context_type": "Course",
                    "role": "__dap_unspecified__",
                    "self_signup": "enabled",
                    **STAMP,
                }
            ]
        ),
    )
    import_paths(loaded, [tmp_path / "p" / "users.csv", tmp_path / "p" / "group_categories.jsonl"])
    assert users(loaded)[:2] == [
        # "NULL" quoted is text; unquoted NULL is NULL; "" is empty; truncated text is NULL;
        # an unmapped NOT NULL enum is kept as the unknown value it is.
        (100, "NULL", None, "", None, "__dap_unspecified__"),
        (101, "Bob Jones", "Jones, Bob", "Bob", None, "registered"),
    ]
    assert rows(
        loaded, "SELECT id, name, role, self_signup, root_account_id FROM group_categories"
    ) == [(700, "Projects", None, "enabled", 1)]


# ---------------------------------------------------------------- bad files change nothing
@pytest.mark.parametrize("fmt", ["tsv", "jsonl", "csv"])
def test_a_bad_record_changes_nothing_and_is_named(
    loaded: Engine, tmp_path: Path, fmt: str
) -> None:
    good = {"id": 100, "ts": TS1, "name": "Changed", "workflow_state": "registered", **STAMP}
    bad = {
        "id": 101,
        "ts": TS1,
        "name": "Bob",
        "workflow_state": "registered",
        "created_at": "yesterday",
        "updated_at": STAMP["updated_at"],
    }
    writer = {"tsv": f.tsv, "jsonl": f.jsonl, "csv": f.csv}[fmt]
    path = f.write(tmp_path / "bad" / f"part.{fmt}.gz", writer([good, bad]), gz=True)
    before = users(loaded)
    with pytest.raises(Cd2Error) as caught:
        import_paths(loaded, [path.parent], table="users")
    err = caught.value
    line = 2 if fmt == "jsonl" else 3  # tabular files have a header line
    assert (err.table, err.file, err.line, err.field) == (
        "users",
        str(path),
        line,
        "value.created_at",
    )
    assert "not a timestamp: 'yesterday'" in str(err)
    assert users(loaded) == before


def test_malformed_lines_are_named(loaded: Engine, tmp_path: Path) -> None:
    ok = {"id": 100, "ts": TS1, "name": "Ann", "workflow_state": "registered", **STAMP}
    j = f.write(tmp_path / "j" / "x.jsonl", f.jsonl([ok]) + b"{not json\n")
    with pytest.raises(Cd2Error) as caught:
        import_paths(loaded, [j], table="users")
    assert (caught.value.file, caught.value.line) == (str(j), 2)
    assert "not JSON" in caught.value.message
    t = f.write(
        tmp_path / "t" / "x.tsv", b"meta.ts\tkey.id\tvalue.name\n" + TS1.encode() + b"\t100\n"
    )
    with pytest.raises(Cd2Error) as caught:
        import_paths(loaded, [t], table="users")
    assert (caught.value.file, caught.value.line) == (str(t), 2)
    assert "2 fields where the header has 3" in caught.value.message
    m = f.write(
        tmp_path / "m" / "x.jsonl", f.jsonl([{"id": 104, "ts": TS1, "name": "No state", **STAMP}])
    )
    with pytest.raises(Cd2Error) as caught:
        import_paths(loaded, [m], table="users")
    assert (caught.value.line, caught.value.field) == (1, "value.workflow_state")
    assert rows(loaded, "SELECT id FROM users WHERE id = 104") == []


def test_an_incremental_record_without_meta_ts_changes_nothing(
    loaded: Engine, tmp_path: Path
) -> None:
    """An incremental of a table applied before checks its staged records too (on PostgreSQL
    in the statement that prepares the table): nothing changes, and the record is named."""
    before = users(loaded)
    ok = {"id": 100, "ts": TS2, "name": "Ann Again", "workflow_state": "registered", **STAMP}
    lines = f.jsonl([ok]) + b'{"key": {"id": 101}, "value": {"name": "No ts"}}\n'
    path = f.write(tmp_path / "users" / "x.jsonl", lines)
    with pytest.raises(Cd2Error) as caught:
        import_paths(loaded, [path])
    assert (caught.value.file, caught.value.line, caught.value.table) == (str(path), 2, "users")
    assert users(loaded) == before


# ---------------------------------------------------------------- snapshots remove
def test_snapshot_removes_rows_missing_from_it(loaded: Engine, tmp_path: Path) -> None:
    channel = {
        "user_id": 101,
        "path": "bob@example.edu",
        "path_type": "email",
        "position": 1,
        "workflow_state": "active",
        "bounce_count": 0,
        "confirmation_sent_count": 0,
        **STAMP,
    }
    path = f.write(
        tmp_path / "s" / "communication_channels.jsonl",
        f.jsonl([{"id": 301, "ts": TS1, **channel}]),
    )
    # Not a snapshot: 300 stays.
    import_paths(loaded, [path])
    assert rows(loaded, "SELECT id FROM communication_channels ORDER BY id") == [(300,), (301,)]
    result = import_paths(loaded, [path], snapshot=True)
    assert (result.tables[0].upserted, result.tables[0].deleted) == (0, 1)
    assert rows(loaded, "SELECT id FROM communication_channels ORDER BY id") == [(301,)]


def test_gzip_is_recognised_by_its_bytes(engine: Engine, tmp_path: Path) -> None:
    data = f.jsonl(
        [
            {
                "id": 1,
                "ts": TS0,
                "name": "Root",
                "workflow_state": "active",
                "default_time_zone": "America/Denver",
                **STAMP,
            }
        ]
    )
    path = tmp_path / "accounts" / "part-0.jsonl"  # gzip bytes, no .gz in the name
    path.parent.mkdir()
    path.write_bytes(gzip.compress(data))
    result = import_paths(engine, [tmp_path / "accounts"])
    assert result.root_id == 1
    assert rows(engine, "SELECT id, default_time_zone FROM accounts") == [(1, "America/Denver")]


def test_an_unknown_time_zone_is_refused(engine: Engine, tmp_path: Path) -> None:
    path = f.write(
        tmp_path / "accounts.tsv",
        f.tsv(
            [
                {
                    "id": 1,
                    "ts": TS0,
                    "name": "Root",
                    "workflow_state": "active",
                    "default_time_zone": "Mars/Olympus",
                    **STAMP,
                }
            ]
        ),
    )
    with pytest.raises(Cd2Error) as caught:
        import_paths(engine, [path])
    assert caught.value.field == "value.default_time_zone"
    assert rows(engine, "SELECT id FROM accounts") == []


# ---------------------------------------------------------------- reports on the institution
def test_provisioning_and_sis_export_rows(loaded: Engine) -> None:
    with loaded.begin() as conn:
        prov = {
            p: run_file(conn, "provisioning_csv", p, account_id=1)
            for p in ("users", "accounts", "terms", "courses", "sections", "enrollments")
        }
        sis = {
            p: run_file(conn, "sis_export_csv", p, account_id=1)
            for p in ("users", "courses", "enrollments")
        }
    # The test student (Student View) is left out; SIS ids live on logins; email from the
    # channel; created_by_sis from sis_batch_id; a Rails zone gives Denver's offsets.
    assert prov["users"].splitlines()[1:] == [
        '100,A1,INT-A,,ann,Ann,Smith,Ann Smith,"Smith, Ann",Ann,ann@example.edu,active,true,'
        "uuid-ann",
        '101,,,,bob,Bob,Jones,Bob Jones,"Jones, Bob",Bob Jones,,active,false,uuid-bob',
    ]
    assert prov["accounts"].splitlines()[1:] == [
        '2,ART,1,,"Art, Design",active,false',
        "3,,1,,Science\tLab,active,false",
    ]
    assert prov["terms"].splitlines()[1:] == [
        "1,,Default Term,active,,,false",
        "5,F24,Fall 2024,active,2024-08-20T00:00:00-06:00,2024-12-20T00:00:00-07:00,true",
    ]
    assert prov["courses"].splitlines()[1:] == [
        "10,ART101,,ART101,Drawing I,2,ART,5,F24,active,,,on_campus,,,true",
        "11,,,SCI-LAB,Lab Safety,3,,1,,unpublished,,,,,,false",
    ]
    assert prov["sections"].splitlines()[1:] == [
        "20,ART101-A,10,ART101,,Drawing I - A,active,,,2,ART,true",
        "21,,11,,,Lab Safety,active,,,3,,false",
    ]
    assert prov["enrollments"].splitlines()[1:] == [
        "10,ART101,100,A1,student,50,20,ART101-A,active,,,true,StudentEnrollment,false,400",
        "10,ART101,101,,teacher,51,20,ART101-A,active,,,false,TeacherEnrollment,false,401",
    ]
    assert sis["users"].splitlines()[1:] == [
        'A1,INT-A,,ann,,Ann,Smith,Ann Smith,"Smith, Ann",Ann,ann@example.edu,active'
    ]
    assert sis["courses"].splitlines()[1:] == [
        "ART101,,ART101,Drawing I,ART,F24,active,,,on_campus,"
    ]
    assert sis["enrollments"].splitlines()[1:] == [
        "ART101,A1,student,50,ART101-A,active,,false",
        "ART101,,teacher,51,ART101-A,active,,false",
    ]


def test_incremental_enrollments_move_only_their_users(loaded: Engine, tmp_path: Path) -> None:
    enrollment = {
        "course_id": 11,
        "course_section_id": 21,
        "role_id": 50,
        "type": "StudentEnrollment",
        "workflow_state": "active",
        "limit_privileges_to_course_section": False,
        "grade_publishing_status": "unpublished",
        **STAMP,
    }
    path = f.write(
        tmp_path / "e" / "enrollments" / "p.jsonl",
        f.jsonl(
            [
                {"id": 403, "ts": TS1, "action": "U", "user_id": 101, **enrollment},
                {
                    "id": 400,
                    "ts": TS1,
                    "action": "U",
                    "user_id": 100,
                    **{
                        **enrollment,
                        "course_id": 10,
                        "course_section_id": 20,
                        "workflow_state": "deleted",
                    },
                },
            ]
        ),
    )
    result = import_paths(loaded, [path.parent.parent])
    assert result.derived == ["user_associations", "test_students", "builtin_roles"]
    # Bob gains the science account; Ann's only enrollment is deleted: her login keeps the root.
    assert rows(
        loaded,
        "SELECT user_id, account_id FROM user_account_associations ORDER BY user_id, account_id",
    ) == [(100, 1), (101, 1), (101, 2), (101, 3), (102, 1), (102, 2)]


def test_the_bulk_path_loads_the_same_and_keeps_the_schema(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Big loads into empty tables drop secondary indexes (and, on PostgreSQL, foreign keys,
    unique constraints and the primary key, with the other tables' foreign keys referencing
    it) and make them again: same rows, same schema afterwards, in every table."""
    from sqlalchemy import inspect

    from reportcard.lms.cd2 import apply

    def schema() -> dict[str, Any]:
        insp = inspect(engine)
        return {
            t: (
                sorted(i["name"] for i in insp.get_indexes(t)),
                sorted(
                    (str(fk["name"]), str(fk["referred_table"])) for fk in insp.get_foreign_keys(t)
                ),
                sorted(str(u["name"]) for u in insp.get_unique_constraints(t)),
                insp.get_pk_constraint(t),
            )
            for t in insp.get_table_names()
        }

    before = schema()
    assert before["enrollments"][3]["constrained_columns"] == ["id"]
    assert before["submissions"][2]  # a unique constraint besides the primary key
    snapshot = write_snapshot(tmp_path)
    write_submissions(snapshot, {900: 100, 901: 101})
    monkeypatch.setattr(apply, "BULK_ROWS", 1)
    import_paths(engine, [snapshot], snapshot=True)
    assert schema() == before
    assert rows(engine, "SELECT id, assignment_id, user_id FROM submissions ORDER BY id") == [
        (900, 700, 100),
        (901, 700, 101),
    ]
    assert users(engine)[0] == (100, "Ann Smith", "Smith, Ann", "Ann", "she/her", "registered")
    assert rows(engine, "SELECT id, user_id, course_id FROM enrollments ORDER BY id") == [
        (400, 100, 10),
        (401, 101, 10),
        (402, 102, 10),
    ]
    # A second, non-empty load takes the upsert path.
    again = import_paths(engine, [tmp_path / "snapshot"], snapshot=True)
    assert all(t.upserted == 0 for t in again.tables)


def test_foreign_keys_stay_for_a_small_share_of_a_big_table(
    loaded: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL: a bulk load drops a target's foreign keys and adds them back (a new
    constraint) only when its upserts are a big share of the table; otherwise the keys stay
    and check the rows one by one. Either way the rows are the same."""
    from reportcard.lms.cd2 import apply
    from tests.lms.cd2.institution import COURSES

    if loaded.dialect.name != "postgresql":
        pytest.skip("foreign keys are dropped on PostgreSQL only")

    def fk_oids() -> list[int]:
        return [
            r[0]
            for r in rows(
                loaded,
                "SELECT oid FROM pg_constraint WHERE conrelid = CAST('courses' AS regclass)"
                " AND contype = 'f' ORDER BY conname",
            )
        ]

    with loaded.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE courses")
    monkeypatch.setattr(apply, "BULK_ROWS", 1)
    first = fk_oids()
    assert first
    # One upsert in a table the estimate holds more than BULK_SHARE times over: keys stay.
    monkeypatch.setattr(apply, "BULK_SHARE", 0)
    renamed = {**COURSES[1], "ts": TS1, "action": "U", "name": "Renamed once"}
    import_paths(loaded, [f.write(tmp_path / "a" / "courses.jsonl", f.jsonl([renamed]))])
    assert fk_oids() == first
    # A big share: dropped and added back.
    monkeypatch.setattr(apply, "BULK_SHARE", 1_000)
    again = {**renamed, "ts": TS2, "name": "Renamed twice"}
    import_paths(loaded, [f.write(tmp_path / "b" / "courses.jsonl", f.jsonl([again]))])
    assert len(fk_oids()) == len(first) and not set(fk_oids()) & set(first)
    assert rows(loaded, f"SELECT name FROM courses WHERE id = {COURSES[1]['id']}") == [
        ("Renamed twice",)
    ]


def test_a_moved_account_moves_its_users(loaded: Engine, tmp_path: Path) -> None:
    moved = {
        "id": 2,
        "ts": TS1,
        "action": "U",
        "name": "Art, Design",
        "parent_account_id": 3,
        "workflow_state": "active",
        "uuid": "uuid-art",
        "sis_source_id": "ART",
        **STAMP,
    }
    path = f.write(tmp_path / "m" / "accounts.jsonl", f.jsonl([moved]))
    import_paths(loaded, [path])
    assert rows(
        loaded,
        "SELECT ancestor_id, depth FROM account_ancestors WHERE account_id = 2 ORDER BY depth",
    ) == [(2, 0), (3, 1), (1, 2)]
    # Ann (course 10 of account 2) and Bob (its teacher, admin of 2) are now under 3 too.
    assert rows(
        loaded,
        "SELECT user_id, account_id FROM user_account_associations ORDER BY user_id, account_id",
    ) == [(100, 1), (100, 2), (100, 3), (101, 1), (101, 2), (101, 3), (102, 1), (102, 2), (102, 3)]


def _associations_rebuilt(engine: Engine, rebuild: Callable[[Connection, int], Any]) -> list[Any]:
    """The associations ``rebuild`` gives the root (rolled back afterwards)."""
    with engine.connect() as conn:
        tx = conn.begin()
        rebuild(conn, 1)
        found = [
            tuple(r)
            for r in conn.execute(
                text(
                    "SELECT user_id, account_id FROM user_account_associations"
                    " ORDER BY user_id, account_id"
                )
            )
        ]
        tx.rollback()
    return found


def _associations_rebuilt_whole(engine: Engine) -> list[Any]:
    """The associations a rebuild of the whole root gives."""
    from reportcard.lms.cd2.derived import rebuild_all_associations

    return _associations_rebuilt(engine, rebuild_all_associations)


def _associations_by_the_rules(engine: Engine) -> list[Any]:
    """The associations :func:`tree.rebuild_user_associations` gives."""
    from reportcard.lms.tree import rebuild_user_associations

    return _associations_rebuilt(engine, rebuild_user_associations)


def test_the_whole_rebuild_gives_the_rules_associations_and_keeps_the_session(
    loaded: Engine, tmp_path: Path
) -> None:
    """A first load's associations (PostgreSQL: sorted with parallel query into a temporary
    table, then inserted) are the rules' (:func:`tree.rebuild_user_associations`), after the
    snapshot and after an incremental; the rebuild leaves the session's settings as they were
    (reportcard's sessions run serial) and keeps the table's keys, indexes and foreign keys."""
    from reportcard.lms.cd2.derived import rebuild_all_associations

    uaa = "SELECT user_id, account_id FROM user_account_associations ORDER BY user_id, account_id"
    first = rows(loaded, uaa)
    assert first == _associations_by_the_rules(loaded) == _associations_rebuilt_whole(loaded)
    assert len(first) == 6
    # An incremental: Ann's enrollment moves to course 11 (account 3).
    from tests.lms.cd2.institution import ENROLLMENTS

    moved = {**ENROLLMENTS[0], "ts": TS1, "action": "U", "course_id": 11, "course_section_id": 21}
    path = f.write(tmp_path / "inc" / "enrollments" / "part.jsonl", f.jsonl([moved]))
    import_paths(loaded, [path.parent.parent])
    after = rows(loaded, uaa)
    assert after != first
    assert after == _associations_by_the_rules(loaded) == _associations_rebuilt_whole(loaded)
    # From an empty table (a first load), in the rebuild's own transaction.
    with loaded.connect() as conn:
        pg = conn.dialect.name == "postgresql"
        show = "SHOW max_parallel_workers_per_gather"
        with conn.begin():
            serial = conn.exec_driver_sql(show).scalar() if pg else None
            conn.exec_driver_sql("DELETE FROM user_account_associations")
            rebuild_all_associations(conn, 1)
            if pg:
                assert conn.exec_driver_sql(show).scalar() == serial == "0"
                assert (
                    conn.exec_driver_sql("SELECT to_regclass('pg_temp.cd2_pairs')").scalar() is None
                )
        if pg:
            assert conn.exec_driver_sql(show).scalar() == "0"
            conn.rollback()
    assert rows(loaded, uaa) == after
    with loaded.connect() as conn:
        from sqlalchemy import inspect

        found = inspect(conn)
        assert found.get_pk_constraint("user_account_associations")["name"] == (
            "pk_user_account_associations"
        )
        assert [i["name"] for i in found.get_indexes("user_account_associations")] == [
            "ix_user_account_associations_account"
        ]
        assert sorted(k["name"] for k in found.get_foreign_keys("user_account_associations")) == [
            "fk_user_account_associations_account_id_accounts",
            "fk_user_account_associations_user_id_users",
        ]


def test_a_moved_course_moves_its_users(loaded: Engine, tmp_path: Path) -> None:
    """An incremental notes the users of a course only when its account changes (or it goes);
    the associations it writes are what a rebuild of the whole root gives."""
    from tests.lms.cd2.institution import COURSES

    def course(rec: dict[str, Any], ts: str, **changes: Any) -> dict[str, Any]:
        return {**rec, **changes, "ts": ts, "action": "U"}

    uaa = "SELECT user_id, account_id FROM user_account_associations ORDER BY user_id, account_id"
    before = rows(loaded, uaa)
    # Course 11 sent again unchanged: nothing moves.
    same = f.write(tmp_path / "s" / "courses.jsonl", f.jsonl([course(COURSES[1], TS1)]))
    import_paths(loaded, [same])
    assert rows(loaded, uaa) == before == _associations_rebuilt_whole(loaded)
    # Course 10 (Ann, Bob, Cy) moves from account 2 to account 3.
    moved = f.write(
        tmp_path / "m" / "courses.jsonl", f.jsonl([course(COURSES[0], TS1, account_id=3)])
    )
    import_paths(loaded, [moved])
    after = rows(loaded, uaa)
    assert after == _associations_rebuilt_whole(loaded)
    assert {(u, 3) for u in (100, 101, 102)} <= set(after)
    assert (100, 2) not in after


def test_an_incremental_leaves_other_tables_state_alone(loaded: Engine, tmp_path: Path) -> None:
    """Tables an incremental does not carry keep their state; a table whose files are empty is
    recorded as loaded with nothing changed; counts of live rows follow upserts and deletes."""
    from reportcard.lms.cd2.state import read_states
    from tests.lms.cd2.institution import COURSES, TERMS

    def states() -> dict[str, Any]:
        with loaded.connect() as conn:
            return {s.table: s for s in read_states(conn)}

    before = states()
    d = tmp_path / "inc"
    f.write(d / "courses" / "p.jsonl", f.jsonl([{**COURSES[1], "ts": TS1, "action": "U"}]))
    f.write(d / "enrollment_terms" / "p.jsonl", b"")
    new_term = {
        "id": 6,
        "ts": TS1,
        "action": "U",
        "name": "Spring 2025",
        "workflow_state": "active",
        **STAMP,
    }
    f.write(d / "grading_periods" / "p.jsonl", b"")
    result = import_paths(loaded, [d])
    assert {t.table: (t.records, t.upserted) for t in result.tables} == {
        "enrollment_terms": (0, 0),
        "courses": (1, 1),
        "grading_periods": (0, 0),
    }
    after = states()
    for name, s in before.items():
        if name not in ("courses", "enrollment_terms", "grading_periods"):
            assert after[name] == s
    terms = after["enrollment_terms"]
    assert (terms.records, terms.rows_upserted, terms.rows_deleted, terms.last_mode) == (
        0,
        0,
        0,
        "incremental",
    )
    assert terms.last_ts == before["enrollment_terms"].last_ts
    assert terms.rows_total == before["enrollment_terms"].rows_total == 2
    assert after["courses"].rows_total == 2
    # A new term, then its delete, then an upsert of a live row: the count of live rows follows.
    d2 = tmp_path / "inc2"
    terms_file = d2 / "enrollment_terms" / "p.jsonl"
    f.write(terms_file, f.jsonl([new_term]))
    import_paths(loaded, [d2])
    assert states()["enrollment_terms"].rows_total == 3
    f.write(terms_file, f.jsonl([{"id": 6, "ts": TS2, "action": "D"}]))
    import_paths(loaded, [d2])
    assert states()["enrollment_terms"].rows_total == 2
    f.write(terms_file, f.jsonl([{**new_term, "ts": TS2}]))
    import_paths(loaded, [d2])  # older than the delete: nothing changes
    assert states()["enrollment_terms"].rows_total == 2
    f.write(terms_file, f.jsonl([{**TERMS[0], "ts": TS2, "action": "U"}]))
    import_paths(loaded, [d2])  # an upsert of a live row
    assert states()["enrollment_terms"].rows_total == 2
    with loaded.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM enrollment_terms")).scalar() == 2


def _count_updates(engine: Engine, table: str) -> None:
    """Note the key of every row ``UPDATE`` writes in ``table`` (table ``written``)."""
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE written (id BIGINT)")
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql(
                "CREATE FUNCTION note_written() RETURNS trigger LANGUAGE plpgsql AS"
                " $$ BEGIN INSERT INTO written VALUES (NEW.id); RETURN NEW; END $$"
            )
            conn.exec_driver_sql(
                f"CREATE TRIGGER note_written AFTER UPDATE ON {table} FOR EACH ROW"
                " EXECUTE FUNCTION note_written()"
            )
        else:
            conn.exec_driver_sql(
                f"CREATE TRIGGER note_written AFTER UPDATE ON {table}"
                " BEGIN INSERT INTO written VALUES (NEW.id); END"
            )


def test_rows_sent_again_unchanged_are_not_rewritten(loaded: Engine, tmp_path: Path) -> None:
    """A newer record whose values reportcard reads are all the same (what most of an
    incremental re-sends) leaves its row unwritten, but its ``meta.ts`` is recorded: an older
    version arriving afterwards still loses. A value that differs only in case is written."""
    from tests.lms.cd2.institution import USERS

    _count_updates(loaded, "users")
    users_dir = tmp_path / "inc" / "users"
    ann, bob = USERS[:2]
    f.write(
        users_dir / "p.jsonl",
        f.jsonl(
            [
                {**ann, "ts": TS1, "action": "U"},  # the same values
                {**bob, "ts": TS1, "action": "U", "name": bob["name"].upper()},
            ]
        ),
    )
    before = users(loaded)
    result = import_paths(loaded, [users_dir.parent])
    assert [(t.records, t.upserted, t.unchanged) for t in result.tables] == [(2, 2, 0)]
    assert rows(loaded, "SELECT id FROM written ORDER BY id") == [(101,)]
    after = users(loaded)
    assert after[0] == before[0] and after[2] == before[2]
    assert after[1] == (101, bob["name"].upper(), *before[1][2:])
    # Older than what was applied (TS1), newer than the snapshot (TS0): it loses.
    between = "2024-05-01T20:00:00Z"
    f.write(users_dir / "p.jsonl", f.jsonl([{**ann, "ts": between, "name": "Old Ann"}]))
    result = import_paths(loaded, [users_dir.parent])
    assert [(t.upserted, t.unchanged) for t in result.tables] == [(0, 1)]
    assert users(loaded) == after


def test_an_enrollment_keeping_its_user_and_course_moves_no_one(
    loaded: Engine, tmp_path: Path
) -> None:
    """Only an enrollment's user, course, root or deletion move its user's associations: an
    enrollment re-sent with another state (or unchanged) does not rebuild its user's."""
    from tests.lms.cd2.institution import ENROLLMENTS

    uaa = "SELECT user_id, account_id FROM user_account_associations ORDER BY user_id, account_id"
    with loaded.begin() as conn:  # a user whose associations would be rebuilt shows it
        conn.exec_driver_sql("DELETE FROM user_account_associations WHERE user_id = 100")
    before = rows(loaded, uaa)
    d = tmp_path / "inc" / "enrollments"
    ann = ENROLLMENTS[0]
    f.write(d / "p.jsonl", f.jsonl([{**ann, "ts": TS1, "workflow_state": "completed"}]))
    result = import_paths(loaded, [d.parent])
    assert [(t.table, t.upserted) for t in result.tables] == [("enrollments", 1)]
    assert rows(loaded, "SELECT workflow_state FROM enrollments WHERE id = 400") == [("completed",)]
    assert rows(loaded, uaa) == before  # Ann's were not rebuilt
    # Her enrollment moves to course 11 (account 3): now hers are rebuilt, as a whole rebuild.
    f.write(
        d / "p.jsonl",
        f.jsonl([{**ann, "ts": TS2, "course_id": 11, "course_section_id": 21}]),
    )
    import_paths(loaded, [d.parent])
    after = rows(loaded, uaa)
    assert after == _associations_rebuilt_whole(loaded)
    assert (100, 3) in after


def test_an_incremental_moves_a_sequence_only_past_its_keys(loaded: Engine, tmp_path: Path) -> None:
    """PostgreSQL: a target's id sequence is set again when an incremental upserts a key past
    it (reportcard's own rows then get ids above CD2's), and left alone otherwise."""
    from tests.lms.cd2.institution import USERS

    if loaded.dialect.name != "postgresql":
        pytest.skip("sequences are PostgreSQL's")
    last = "SELECT pg_sequence_last_value(CAST(pg_get_serial_sequence('users', 'id') AS regclass))"
    users_dir = tmp_path / "inc" / "users"
    f.write(users_dir / "p.jsonl", f.jsonl([{**USERS[0], "id": 5000, "ts": TS1}]))
    import_paths(loaded, [users_dir.parent])
    assert rows(loaded, last) == [(5000,)]
    with loaded.begin() as conn:
        conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('users', 'id'), 9000)")
    f.write(users_dir / "p.jsonl", f.jsonl([{**USERS[0], "name": "Ann B", "ts": TS2}]))
    import_paths(loaded, [users_dir.parent])
    assert rows(loaded, last) == [(9000,)]  # not set back to the highest id (5000)
    f.write(users_dir / "p.jsonl", f.jsonl([{**USERS[0], "id": 9500, "ts": TS2}]))
    import_paths(loaded, [users_dir.parent])
    assert rows(loaded, last) == [(9500,)]


def test_an_incremental_chooses_its_winners_while_preparing(loaded: Engine, tmp_path: Path) -> None:
    """PostgreSQL: an incremental's winners (``cd2_win``, each looking its key up in the
    bookkeeping) are chosen by ``prepare_staged``, which the importer's second connection runs
    beside the apply of the table before; ``apply_staged`` carries on with them. A snapshot
    chooses them in its apply (it may fold ``cd2_rows_recent`` first)."""
    from reportcard.lms.cd2 import state
    from reportcard.lms.cd2.apply import apply_staged, prepare_staged
    from reportcard.lms.cd2.mapping import table
    from reportcard.lms.cd2.staging import create_stage, drop_stage, stage_file
    from tests.databases import rows_of
    from tests.lms.cd2.institution import USERS

    if loaded.dialect.name != "postgresql":
        pytest.skip("SQLite chooses its winners in the apply")
    t = table("users")
    path = f.write(
        tmp_path / "users" / "p.jsonl",
        f.jsonl(
            [
                {**USERS[0], "name": "Old Name", "ts": TS1},
                {**USERS[0], "name": "New Name", "ts": TS2},
                {**USERS[1], "ts": TS0},  # not newer than the snapshot's
            ]
        ),
    )
    with loaded.connect() as conn, conn.begin():
        root = state.known_roots(conn)[0]
        for snapshot, chosen in ((False, 2), (True, None)):
            create_stage(conn, t)
            stage_file(conn, t, path)
            prepare_staged(conn, t, root_id=root, snapshot=snapshot)
            made = conn.exec_driver_sql("SELECT to_regclass('pg_temp.cd2_win')").scalar()
            if chosen is None:
                assert made is None
                continue
            assert rows_of(conn, text("SELECT key, newer FROM cd2_win ORDER BY key")) == [
                (USERS[0]["id"], True),
                (USERS[1]["id"], False),
            ]
            summary = apply_staged(conn, t, root_id=root, snapshot=snapshot)
            assert (summary.records, summary.upserted, summary.unchanged) == (3, 1, 2)
            drop_stage(conn, t)
        conn.rollback()


def test_an_incremental_notes_moved_users_while_preparing(loaded: Engine, tmp_path: Path) -> None:
    """PostgreSQL: an incremental of a table whose moved keys and touched users read only its
    own targets (enrollments) notes them while preparing, beside the apply of the table
    before: ``cd2_moved`` holds the keys whose user, course, root or deletion change and
    ``cd2_touched`` their users as they were; the apply adds the users they have after it.
    A table whose touched users are read elsewhere (courses: from the enrollments) leaves them
    to its apply."""
    from reportcard.lms.cd2 import state
    from reportcard.lms.cd2.apply import apply_staged, moves_own_targets, prepare_staged
    from reportcard.lms.cd2.mapping import table
    from reportcard.lms.cd2.staging import create_stage, drop_stage, stage_file
    from tests.databases import rows_of
    from tests.lms.cd2.institution import ENROLLMENTS

    if loaded.dialect.name != "postgresql":
        pytest.skip("SQLite chooses its winners in the apply")
    assert moves_own_targets(table("enrollments")) and moves_own_targets(table("pseudonyms"))
    assert not moves_own_targets(table("courses"))  # its users are the enrollments'
    assert not moves_own_targets(table("users"))  # nothing it changes moves associations
    ann, bob = ENROLLMENTS[:2]
    t = table("enrollments")
    path = f.write(
        tmp_path / "enrollments" / "p.jsonl",
        f.jsonl(
            [
                {**ann, "ts": TS1, "workflow_state": "completed"},  # moves no one
                {**bob, "ts": TS1, "user_id": ann["user_id"]},  # from Bob to Ann
            ]
        ),
    )
    touched = "SELECT DISTINCT user_id FROM cd2_touched ORDER BY user_id"
    with loaded.connect() as conn, conn.begin():
        root = state.known_roots(conn)[0]
        conn.exec_driver_sql("CREATE TEMP TABLE IF NOT EXISTS cd2_touched (user_id BIGINT)")
        conn.exec_driver_sql("DELETE FROM cd2_touched")
        create_stage(conn, t)
        stage_file(conn, t, path)
        prepare_staged(conn, t, root_id=root, snapshot=False)
        assert rows_of(conn, text("SELECT key FROM cd2_moved")) == [(bob["id"],)]
        assert rows_of(conn, text(touched)) == [(bob["user_id"],)]
        summary = apply_staged(conn, t, root_id=root, snapshot=False)
        assert summary.upserted == 2
        assert rows_of(conn, text(touched)) == sorted([(bob["user_id"],), (ann["user_id"],)])
        drop_stage(conn, t)
        conn.rollback()


# ---------------------------------------------------------------- loads on two connections
def _dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, sorted (the load's clock columns left out)."""
    from reportcard.db.functions import present_columns
    from reportcard.db.tables import metadata

    out = {}
    with engine.connect() as conn:
        for name, table in sorted(metadata.tables.items()):
            present = present_columns(table, conn.dialect.name)
            cols = [c.name for c in present if c.name not in CLOCKS]
            select = ", ".join(f'"{c}"' for c in cols)
            found = conn.exec_driver_sql(f'SELECT {select} FROM "{name}"').all()
            out[name] = sorted((tuple(r) for r in found), key=repr)
    return out


CLOCKS = ("applied_at", "last_snapshot_at")


def _import_into_fresh(
    tmp_path: Path, paths: list[Path], connections: int, **kw: Any
) -> tuple[tuple[Any, ...] | None, dict[str, list[tuple[Any, ...]]]]:
    """Import ``paths`` into a new database with ``connections``: (the error's table, file,
    line, field and message, or None) and every table's rows afterwards."""
    from reportcard.db.engine import make_engine
    from tests.databases import drop_database, fresh_database_url

    url = fresh_database_url(tmp_path / f"db-{connections}")
    engine = make_engine(url)
    try:
        err = None
        try:
            for path in paths:
                import_paths(engine, [path], connections=connections, **kw)
        except Cd2Error as exc:
            err = (exc.table, exc.file, exc.line, exc.field, str(exc))
        return err, _dump(engine)
    finally:
        engine.dispose()
        drop_database(url)


@pytest.fixture(params=["in order", "ahead"])
def ahead(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pipelined loads taking the next table, or (``ahead``) any table whenever they can:
    a worker then stages a later table while the other applies the ones before it."""
    from reportcard.lms.cd2 import importer

    if request.param == "ahead":
        monkeypatch.setattr(importer, "AHEAD_BYTES", 1)
        monkeypatch.setattr(importer, "AHEAD_SHARE", 0)
        monkeypatch.setattr(importer, "AHEAD_RATIO", 0)


@pytest.mark.usefixtures("ahead")
def test_two_connections_load_what_one_loads(tmp_path: Path) -> None:
    """PostgreSQL stages a table on a second connection while the one before it is applied
    (and on a third, a big table ahead): a snapshot and an incremental then leave every table
    as one connection does (SQLite always loads on one)."""
    snapshot = write_snapshot(tmp_path / "files")
    inc = tmp_path / "files" / "inc"
    f.write(
        inc / "users" / "u.jsonl",
        f.jsonl([{"id": 103, "ts": TS2, "name": "Cy", "workflow_state": "registered", **STAMP}]),
    )
    f.write(
        inc / "enrollments" / "e.jsonl",
        f.jsonl([{"id": 402, "ts": TS2, "action": "D"}]),
    )
    one = _import_into_fresh(tmp_path, [snapshot], 1, snapshot=True)
    two = _import_into_fresh(tmp_path, [snapshot], 2, snapshot=True)
    three = _import_into_fresh(tmp_path, [snapshot], 3, snapshot=True)
    assert one[0] is None
    assert one == two == three
    assert one[1]["user_account_associations"]
    one = _import_into_fresh(tmp_path, [snapshot, inc], 1)
    two = _import_into_fresh(tmp_path, [snapshot, inc], 2)
    assert one[0] is None
    assert one == two


@pytest.mark.usefixtures("ahead")
@pytest.mark.parametrize("bad", ["meta.ts", "value.created_at"])
def test_a_failed_table_stops_the_tables_after_it_on_two_connections(
    tmp_path: Path, bad: str
) -> None:
    """A bad record in a table in the middle of a snapshot: the tables before it stay
    applied and the ones after it (staged meanwhile on the other connection) do not, the
    error names the record, exactly as on one connection. A bad meta.ts fails while the
    table is prepared (its bookkeeping), a bad timestamp field when it is applied."""
    from tests.lms.cd2.institution import ENROLLMENTS

    snapshot = write_snapshot(tmp_path / "files")
    broken = dict(ENROLLMENTS[-1], id=499)
    if bad == "meta.ts":
        broken["ts"] = "yesterday"
    else:
        broken["created_at"] = "yesterday"
    f.write(
        snapshot / "enrollments" / "j" / "e.jsonl.gz",
        f.jsonl([*ENROLLMENTS, broken]),
        gz=True,
    )
    one = _import_into_fresh(tmp_path, [snapshot], 1, snapshot=True)
    two = _import_into_fresh(tmp_path, [snapshot], 2, snapshot=True)
    three = _import_into_fresh(tmp_path, [snapshot], 3, snapshot=True)
    assert one[0] is not None and one[0][:4] == (
        "enrollments",
        str(snapshot / "enrollments" / "j" / "e.jsonl.gz"),
        len(ENROLLMENTS) + 1,
        bad if bad == "value.created_at" else "meta.ts",
    )
    assert one == two == three
    assert one[1]["enrollments"] == [] and one[1]["account_users"] == []
    assert one[1]["users"] and one[1]["roles"]


def test_an_incremental_keeps_sqlite_indexes_whole(loaded: Engine, tmp_path: Path) -> None:
    """SQLite assigns the unindexed columns of rows whose indexed ones keep their values by a
    separate UPDATE; rows whose indexed columns change go through the upsert: both keep every
    index equal to its table (``PRAGMA integrity_check``), and the rows hold the new values."""
    from tests.lms.cd2.institution import ENROLLMENTS

    d = tmp_path / "inc" / "enrollments"
    ann, bob = ENROLLMENTS[:2]
    f.write(
        d / "p.jsonl",
        f.jsonl(
            [
                {**ann, "ts": TS1, "updated_at": TS1, "sis_batch_id": 10},  # unindexed only
                {**bob, "ts": TS1, "course_id": 11, "course_section_id": 21},  # indexed too
            ]
        ),
    )
    import_paths(loaded, [d.parent])
    assert rows(
        loaded,
        "SELECT id, course_id, course_section_id, sis_batch_id FROM enrollments"
        " WHERE id IN (400, 401) ORDER BY id",
    ) == [(400, 10, 20, 10), (401, 11, 21, None)]
    assert rows(loaded, "SELECT id FROM enrollments WHERE course_id = 11 ORDER BY id") == [(401,)]
    if loaded.dialect.name == "sqlite":
        assert rows(loaded, "PRAGMA integrity_check") == [("ok",)]


def test_a_table_applied_beside_a_failing_one_is_rolled_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL, a first load on two connections: roles shares no table with the
    communication channels before it (``locks.lock_set``), so it is applied while they are
    still loading, then waits for their commit to commit. When the channels fail, roles is
    rolled back: the load ends as on one connection (the tables before the failed one
    applied, none after it; the roles' id sequence untouched, so the built-in roles made
    afterwards get the same ids)."""
    import threading

    from reportcard.lms.cd2 import importer
    from reportcard.lms.cd2.locks import lock_set
    from tests.databases import PG_ADMIN_URL
    from tests.lms.cd2.institution import CHANNELS, ROLES

    if not PG_ADMIN_URL:
        pytest.skip("SQLite loads one table after the other on one connection")
    assert not lock_set("roles") & lock_set("communication_channels")
    snapshot = write_snapshot(tmp_path / "files")
    f.write(
        snapshot / "communication_channels" / "j" / "c.jsonl",
        # a path missing fails in the apply (a first load's staging types integers: "first"
        # as a position would fail the staging, before roles is applied beside it)
        f.jsonl([*CHANNELS, {**CHANNELS[-1], "id": 399, "path": None}]),
    )
    one = _import_into_fresh(tmp_path, [snapshot], 1, snapshot=True)
    roles_applied = threading.Event()
    original = importer.apply_staged

    def apply_staged(conn: Any, t: Any, **kw: Any) -> Any:
        if t.name == "communication_channels":  # not before roles is applied beside it
            assert roles_applied.wait(timeout=120), "roles was not applied beside the channels"
        if t.name == "roles":  # its rows are written: it waits for the channels' commit
            settle = kw["settle"]

            def written() -> None:
                roles_applied.set()
                settle()

            kw["settle"] = written
        return original(conn, t, **kw)

    monkeypatch.setattr(importer, "apply_staged", apply_staged)
    two = _import_into_fresh(tmp_path, [snapshot], 2, snapshot=True)
    assert roles_applied.is_set()
    assert one[0] is not None and one[0][:4] == (
        "communication_channels",
        str(snapshot / "communication_channels" / "j" / "c.jsonl"),
        len(CHANNELS) + 1,
        "value.path",
    )
    assert one == two
    assert two[1]["communication_channels"] == []
    # only the built-in roles made after the failure, none of the roles files'
    assert not {r[0] for r in two[1]["roles"]} & {r["id"] for r in ROLES}
    assert two[1]["users"] and two[1]["pseudonyms"]


def test_an_incremental_applies_a_table_beside_the_one_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL, an incremental on two connections: roles shares no table with the
    communication channels before it (``locks.lock_set``), so it is applied while they are
    still loading, as a first load is (``importer.INCREMENTALS_APART``), and commits after
    them. The rows are those one connection leaves."""
    import threading

    from reportcard.lms.cd2 import importer
    from reportcard.lms.cd2.locks import lock_set
    from tests.databases import PG_ADMIN_URL
    from tests.lms.cd2.institution import CHANNELS, ROLES, USERS

    if not PG_ADMIN_URL:
        pytest.skip("SQLite loads one table after the other on one connection")
    assert not lock_set("roles") & lock_set("communication_channels")
    snapshot = write_snapshot(tmp_path / "files")
    inc = tmp_path / "inc"
    f.write(
        inc / "communication_channels" / "c.jsonl",
        f.jsonl([{**CHANNELS[0], "ts": TS1, "path": "ann.b@example.edu"}]),
    )
    f.write(inc / "roles" / "r.jsonl", f.jsonl([{**ROLES[-1], "ts": TS1, "name": "Renamed"}]))
    # (a load of fewer than three tables takes one connection)
    f.write(inc / "users" / "u.jsonl", f.jsonl([{**USERS[0], "ts": TS1, "name": "Ann B"}]))
    one = _import_into_fresh(tmp_path, [snapshot, inc], 1)
    roles_applied = threading.Event()
    original = importer.apply_staged

    def apply_staged(conn: Any, t: Any, **kw: Any) -> Any:
        incremental = conn.info["cd2_prepared"][1]  # rows of the table applied before
        if t.name == "communication_channels" and incremental:
            assert roles_applied.wait(timeout=60), "roles was not applied beside the channels"
        if t.name == "roles" and incremental:  # its rows are written: it waits to commit
            settle = kw["settle"]

            def written() -> None:
                roles_applied.set()
                settle()

            kw["settle"] = written
        return original(conn, t, **kw)

    monkeypatch.setattr(importer, "apply_staged", apply_staged)
    two = _import_into_fresh(tmp_path, [snapshot, inc], 2)
    assert roles_applied.is_set()
    assert one[0] is None
    assert one == two
    assert "ann.b@example.edu" in {r[2] for r in two[1]["communication_channels"]}


def test_an_incrementals_big_tables_are_taken_ahead() -> None:
    """A pipelined load takes a big table ahead of small ones (its staging and preparing, an
    incremental's winners, then run beside their applies): a snapshot's and an incremental's
    alike. Large's 1% incremental: 2.0 MB of files, enrollments 0.54 MB, scores 0.60 MB."""
    from reportcard.lms.cd2.importer import taken_ahead

    assert taken_ahead(544_096, 4_096, 2_006_000)  # large's incremental
    assert taken_ahead(60_000_000, 400_000, 300_000_000)  # a snapshot's
    assert not taken_ahead(30_000, 1_000, 200_000)  # too small to matter
    assert not taken_ahead(544_096, 100_000, 2_006_000)  # the next table is not small
    assert not taken_ahead(100_000, 1_000, 2_006_000)  # a small share of the load


def test_every_table_filled_from_the_staging_is_in_the_lock_sets() -> None:
    """The tables an apply writes from its staged records (``derived.from_stage``) are in
    its lock set: each such derived structure a declaration names is known to
    ``locks.FROM_STAGE`` (or rebuilt after every table, ``derived.ORDER``)."""
    from reportcard.lms.cd2.derived import ORDER
    from reportcard.lms.cd2.locks import FROM_STAGE, lock_set
    from reportcard.lms.cd2.mapping import TABLES

    for t in TABLES:
        for name in t.derived:
            assert name in FROM_STAGE or name in ORDER, (t.name, name)
            for table in FROM_STAGE.get(name, ()):
                assert table in lock_set(t.name)
        for target in t.targets:
            assert target.table in lock_set(t.name)


def test_scores_keep_their_stored_text(loaded: Engine, tmp_path: Path) -> None:
    """scores.<kind>_score_text (generated by the database) on a snapshot of the scores and an
    incremental changing them, with scores of every shape."""
    kinds = ["current", "final", "unposted_current", "unposted_final", "override"]
    values = [*ODD_SCORES, *([None] * (-len(ODD_SCORES) % 15))]

    def records(chunk: list[float | None], ts: str) -> list[dict[str, Any]]:
        return [
            {
                "id": 900 + i,
                "ts": ts,
                "action": "U",
                "enrollment_id": 400 + i,
                "course_score": True,
                **{f"{k}_score": v for k, v in zip(kinds, chunk[5 * i : 5 * i + 5], strict=True)},
                "workflow_state": "active",
                **STAMP,
            }
            for i in range(3)
        ]

    f.write(tmp_path / "scores" / "snap" / "part-0.tsv", f.tsv(records(values[:15], TS1)))
    import_paths(loaded, [tmp_path / "scores" / "snap"], table="scores", snapshot=True)
    assert assert_score_text(loaded) == 3
    f.write(tmp_path / "scores" / "inc" / "part-0.csv", f.csv(records(values[15:30], TS2)))
    import_paths(loaded, [tmp_path / "scores" / "inc"], table="scores")
    assert assert_score_text(loaded) == 3
    if loaded.dialect.name == "postgresql":  # SQLite's alone (checked just above)
        return
    assert rows(loaded, "SELECT current_score_text FROM scores ORDER BY id") == [
        (ruby_float(values[15]),),
        (ruby_float(values[20]),),
        (ruby_float(values[25]),),
    ]
