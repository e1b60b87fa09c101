"""``reportcard load --mode insert|upsert|delete``, load order, generated columns and zones."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from reportcard.db.activity_tables import context_external_tools
from reportcard.db.functions import present_columns
from reportcard.db.learning_tables import account_settings
from reportcard.db.tables import (
    account_ancestors,
    accounts,
    courses,
    enrollments,
    roles,
    user_account_associations,
    users,
)
from reportcard.lms.institution import BUILTIN_ROLES, create_admin, create_root_account
from reportcard.lms.loader import LoadFailed, load_directory, loadable_tables
from tests.stored_names import ODD_SORTABLE, assert_names_stored
from tests.stored_score_text import ODD_SCORES, assert_score_text

# An institution built by hand, without uuids or role ids: Canvas fills those in.
BASE = {
    "accounts.csv": (
        "id,name,parent_account_id,root_account_id,default_time_zone\n"
        "10,Hand U,,,Mountain Time (US & Canada)\n"
        "11,Science,10,10,\n"
        "12,Arts,10,10,\n"
    ),
    "enrollment_terms.csv": "id,root_account_id,name,is_default\n10,10,Default Term,true\n",
    "courses.csv": (
        "id,root_account_id,account_id,enrollment_term_id,name,workflow_state\n"
        "99,10,11,10,Physics,available\n"
    ),
    "course_sections.csv": "id,root_account_id,course_id,name\n99,10,99,Physics 1\n",
    "users.csv": 'id,name,sortable_name\n20,Ann Archer,"Archer, Ann"\n21,Ben Baker,\n',
    "pseudonyms.csv": "id,user_id,account_id,unique_id\n20,20,10,ann\n21,21,10,ben\n",
    "enrollments.csv": (
        "id,root_account_id,user_id,course_id,course_section_id,type,workflow_state\n"
        "30,10,20,99,99,StudentEnrollment,active\n"
        "31,10,21,99,99,TeacherEnrollment,active\n"
    ),
    "context_external_tools.csv": (
        "id,root_account_id,context_type,context_id,name\n5,10,Course,99,Course tool\n"
    ),
}


def write(path: Path, files: dict[str, str]) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for name, body in files.items():
        (path / name).write_text(body)
    return path


def count(engine: Engine, table: Any, *where: Any) -> int:
    with engine.connect() as conn:
        query = select(func.count()).select_from(table)
        return int(conn.execute(query.where(*where)).scalar_one())


def errors_of(engine: Engine, path: Path, mode: str = "insert") -> list[str]:
    with pytest.raises(LoadFailed) as failed:
        load_directory(engine, path, mode=mode)
    return [str(e) for e in failed.value.errors]


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    with engine.connect() as conn:
        for table in loadable_tables().values():
            out[table.name] = sorted(
                (
                    tuple(r)
                    for r in conn.execute(select(*present_columns(table, conn.dialect.name)))
                ),
                key=repr,
            )
    return out


@pytest.fixture
def built(engine: Engine, tmp_path: Path) -> Engine:
    """The built-in roles (as ``reportcard init`` makes them), then BASE loaded."""
    with engine.begin() as conn:
        create_root_account(conn, name="Other U")  # roles, and a root of its own (id 1)
    load_directory(engine, write(tmp_path / "base", BASE))
    return engine


# ---------------------------------------------------------------- insert


def test_polymorphic_references_load_after_their_targets() -> None:
    order = list(loadable_tables())
    for name, table in loadable_tables().items():
        if "context_type" in table.c and "context_id" in table.c:
            for target in ("accounts", "courses", "users"):
                assert order.index(target) < order.index(name), (name, target)


def test_a_hand_built_institution_gets_uuids_roles_and_its_tree(built: Engine) -> None:
    with built.connect() as conn:
        uuids = conn.execute(select(accounts.c.uuid).where(accounts.c.id >= 10)).scalars().all()
        uuids += conn.execute(select(users.c.uuid)).scalars().all()
        assert len(uuids) == 5 and len(set(uuids)) == 5
        assert all(len(u) == 40 for u in uuids)
        role_of = dict(
            conn.execute(
                select(enrollments.c.id, roles.c.name).join(
                    roles, roles.c.id == enrollments.c.role_id
                )
            ).all()
        )
        assert role_of == {30: "StudentEnrollment", 31: "TeacherEnrollment"}
        zone = conn.execute(
            select(accounts.c.default_time_zone).where(accounts.c.id == 10)
        ).scalar_one()
        assert zone == "Mountain Time (US & Canada)"
        tool = conn.execute(select(context_external_tools)).one()
        assert (tool.context_type, tool.context_id) == ("Course", 99)
    assert count(built, account_ancestors, account_ancestors.c.ancestor_id == 10) == 3
    assert count(built, user_account_associations, user_account_associations.c.account_id == 11)


def test_a_root_made_by_hand_gets_the_builtin_roles(engine: Engine, tmp_path: Path) -> None:
    """No init: the load creates Canvas's built-in roles, as every Canvas has them."""
    result = load_directory(engine, write(tmp_path / "x", BASE))
    assert result.counts["enrollments"] == 2
    with engine.connect() as conn:
        built = conn.execute(select(roles.c.name).where(roles.c.built_in.is_(True))).scalars()
        assert sorted(built) == sorted(name for name, _ in BUILTIN_ROLES)


def test_an_enrollment_type_without_a_builtin_role_needs_a_role_id(
    built: Engine, tmp_path: Path
) -> None:
    files = {
        "enrollments.csv": (
            "id,root_account_id,user_id,course_id,course_section_id,type\n40,10,20,99,99,Auditor\n"
        )
    }
    assert errors_of(built, write(tmp_path / "x", files)) == [
        "enrollments.csv:2: role_id: a value is required unless type names a built-in role "
        "(StudentEnrollment, TeacherEnrollment, TaEnrollment, DesignerEnrollment, "
        "ObserverEnrollment)"
    ]


@pytest.mark.parametrize("mode", ["insert", "upsert"])
def test_unknown_zones_are_refused_at_load_time(engine: Engine, tmp_path: Path, mode: str) -> None:
    bad = {
        "accounts.csv": "id,name,default_time_zone\n1,Zoned,Mountain Time\n2,Fine,Europe/Paris\n",
        "users.jsonl": '{"id": 1, "name": "Zed", "time_zone": "Mars/Olympus"}\n',
    }
    errors = errors_of(engine, write(tmp_path / "bad", bad), mode)
    assert errors == [
        "accounts.csv:2: default_time_zone: unknown time zone 'Mountain Time': use an IANA "
        "name such as 'America/Denver' or a Rails name such as 'Mountain Time (US & Canada)'"
    ]
    assert count(engine, accounts) == 0


# ---------------------------------------------------------------- upsert


def test_load_keeps_the_stored_name_parts(built: Engine, tmp_path: Path) -> None:
    """users.first_name/last_name follow the sortable name on insert and on upsert, are left
    alone by an upsert that does not give it, and are never read from a file."""
    assert assert_names_stored(built) == 2
    with built.connect() as conn:
        ann = conn.execute(select(users).where(users.c.id == 20)).one()
    assert (ann.first_name, ann.last_name) == ("Ann", "Archer")
    odd = "".join(
        json.dumps({"id": 40 + i, "name": f"Odd {i}", "sortable_name": name}) + "\n"
        for i, name in enumerate(ODD_SORTABLE)
    )
    change = {
        "users.jsonl": (
            '{"id": 20, "sortable_name": "Archer-Bell, Ann Jr."}\n'
            '{"id": 21, "name": "Ben B. Baker"}\n' + odd
        )
    }
    load_directory(built, write(tmp_path / "up", change), mode="upsert")
    assert assert_names_stored(built) == 2 + len(ODD_SORTABLE)
    with built.connect() as conn:
        ann = conn.execute(select(users).where(users.c.id == 20)).one()
    assert (ann.first_name, ann.last_name) == ("Ann", "Archer-Bell")
    given = {"users.csv": 'id,name,sortable_name,first_name\n50,Zed,"Zee, Zed",Zorro\n'}
    assert errors_of(built, write(tmp_path / "given", given)) == [
        "users.csv:1: unknown column(s): first_name"
    ]


def test_upsert_changes_only_the_given_columns_and_adds_new_rows(
    built: Engine, tmp_path: Path
) -> None:
    with built.connect() as conn:
        before = conn.execute(select(users).where(users.c.id == 21)).one()
    change = {
        "users.jsonl": (
            '{"id": 21, "name": "Benjamin Baker", "sortable_name": "Baker, Benjamin"}\n'
            '{"name": "New Person"}\n'
        ),
        "accounts.csv": "id,parent_account_id,uuid\n11,12,\n",  # Science moves under Arts
    }
    result = load_directory(built, write(tmp_path / "up", change), mode="upsert")
    assert result.counts == {"accounts": 1, "users": 2}
    assert result.roots == [10]
    with built.connect() as conn:
        after = conn.execute(select(users).where(users.c.id == 21)).one()
        assert (after.name, after.sortable_name) == ("Benjamin Baker", "Baker, Benjamin")
        assert (after.uuid, after.created_at) == (before.uuid, before.created_at)
        assert after.updated_at >= before.updated_at
        new = conn.execute(select(users).where(users.c.name == "New Person")).one()
        assert len(new.uuid) == 40
        science = conn.execute(select(accounts).where(accounts.c.id == 11)).one()
        assert (science.parent_account_id, science.name) == (12, "Science")
        assert len(science.uuid) == 40  # a blank uuid keeps the one it has
        chain = conn.execute(
            select(account_ancestors.c.ancestor_id, account_ancestors.c.depth)
            .where(account_ancestors.c.account_id == 11)
            .order_by(account_ancestors.c.depth)
        ).all()
        assert [tuple(r) for r in chain] == [(11, 0), (12, 1), (10, 2)]


def test_upsert_by_composite_key(built: Engine, tmp_path: Path) -> None:
    first = {"account_settings.csv": "account_id,name,value\n10,default_locale,de\n"}
    load_directory(built, write(tmp_path / "a", first), mode="upsert")
    again = {"account_settings.csv": "account_id,name,value\n10,default_locale,fr\n"}
    load_directory(built, write(tmp_path / "b", again), mode="upsert")
    with built.connect() as conn:
        assert conn.execute(select(account_settings.c.value)).scalars().all() == ["fr"]


def test_a_bad_upsert_changes_nothing(built: Engine, tmp_path: Path) -> None:
    before = snapshot(built)
    bad = {
        "users.csv": "id,name\n20,Renamed\n",
        "courses.csv": "id,name,account_id\n99,Physics II,\n",  # a required column set empty
        "enrollments.csv": "id,course_id\n30,12345\n",
    }
    assert errors_of(built, write(tmp_path / "bad", bad), "upsert") == [
        "courses.csv:2: account_id: a value is required"
    ]
    bad = {"users.csv": "id,name\n20,Renamed\n", "enrollments.csv": "id,course_id\n30,12345\n"}
    assert errors_of(built, write(tmp_path / "bad2", bad), "upsert") == [
        "enrollments.csv:2: course_id: no courses row with id 12345"
    ]
    assert snapshot(built) == before


# ---------------------------------------------------------------- delete


def test_delete_rows_without_sis_ids_children_first(built: Engine, tmp_path: Path) -> None:
    gone = {
        "enrollments.csv": "id\n31\n",
        "pseudonyms.csv": "id\n21\n",
        "users.jsonl": '{"id": 21, "name": "ignored: rows are matched by key"}\n',
    }
    result = load_directory(built, write(tmp_path / "del", gone), mode="delete")
    assert result.counts == {"enrollments": 1, "pseudonyms": 1, "users": 1}
    assert result.roots == [10]
    assert count(built, users, users.c.id == 21) == 0
    assert count(built, user_account_associations, user_account_associations.c.user_id == 21) == 0
    assert count(built, enrollments) == 1


def test_delete_refuses_rows_still_in_use_and_changes_nothing(
    built: Engine, tmp_path: Path
) -> None:
    before = snapshot(built)
    bad = {"users.csv": "id\n21\n404\n"}
    assert errors_of(built, write(tmp_path / "bad", bad), "delete") == [
        "users.csv:3: no users row with id 404"
    ]
    bad = {"courses.csv": "id\n99\n", "accounts.csv": "id\n12\n"}
    errors = errors_of(built, write(tmp_path / "bad2", bad), "delete")
    advice = (
        "delete those rows first (in the same load or before), or mark this row deleted "
        "(--mode upsert with workflow_state)"
    )
    assert sorted(errors) == [
        f"courses.csv:2: id 99 is still used by {used}: {advice}"
        for used in (
            "context_external_tools.context_id",
            "course_sections.course_id",
            "enrollments.course_id",
        )
    ]
    assert snapshot(built) == before


def test_delete_a_whole_subtree_in_one_load(built: Engine, tmp_path: Path) -> None:
    gone = {
        "context_external_tools.csv": "id\n5\n",
        "enrollments.csv": "id\n30\n31\n",
        "course_sections.csv": "id\n99\n",
        "courses.csv": "id\n99\n",
        "accounts.csv": "id\n11\n12\n",
    }
    load_directory(built, write(tmp_path / "del", gone), mode="delete")
    assert count(built, courses) == 0
    assert count(built, accounts, accounts.c.root_account_id == 10) == 0
    assert count(built, account_ancestors, account_ancestors.c.ancestor_id == 10) == 1


def test_delete_needs_the_key(built: Engine, tmp_path: Path) -> None:
    bad = {"users.csv": "name\nAnn Archer\n"}
    assert errors_of(built, write(tmp_path / "bad", bad), "delete") == [
        "users.csv:1: missing required column(s): id"
    ]
    bad = {"account_settings.csv": "account_id,value\n10,x\n"}
    assert errors_of(built, write(tmp_path / "bad1", bad), "delete") == [
        "account_settings.csv:1: missing required column(s): name"
    ]
    bad = {"users.jsonl": '{"name": "Ann Archer"}\n'}
    assert errors_of(built, write(tmp_path / "bad2", bad), "delete") == [
        "users.jsonl:1: id: a value is required to delete a row"
    ]


def test_init_admin_then_load_enrollments(engine: Engine, tmp_path: Path) -> None:
    """The issue's complaint: after init, a hand-made course with enrollments loads."""
    with engine.begin() as conn:
        root = create_root_account(conn, name="Init U")
        create_admin(conn, root, login="admin")
    files = {
        "courses.csv": (
            f"id,root_account_id,account_id,enrollment_term_id,name\n7,{root},{root},1,Chemistry\n"
        ),
        "course_sections.csv": f"id,root_account_id,course_id,name\n7,{root},7,Chem\n",
        "users.csv": "id,name\n70,Cy Chem\n",
        "enrollments.csv": (
            "id,root_account_id,user_id,course_id,course_section_id,type\n"
            f"70,{root},70,7,7,StudentEnrollment\n"
        ),
    }
    result = load_directory(engine, write(tmp_path / "x", files))
    assert result.counts["enrollments"] == 1 and result.roots == [root]


def test_cli_modes(built: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from reportcard.cli import main
    from reportcard.settings import get_settings

    monkeypatch.setenv("REPORTCARD_DATABASE_URL", built.url.render_as_string(hide_password=False))
    monkeypatch.setenv("REPORTCARD_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        fix = write(tmp_path / "fix", {"users.csv": "id,name\n20,Ann Archer-Smith\n"})
        done = runner.invoke(main, ["load", str(fix), "--mode", "upsert"])
        assert done.exit_code == 0, done.output
        assert done.output.splitlines()[0] == "loaded (upsert): users=1"
        gone = write(tmp_path / "gone", {"enrollments.csv": "id\n30\n"})
        done = runner.invoke(main, ["load", str(gone), "--mode", "delete", "--dry-run"])
        assert done.output.splitlines()[0] == "validated (dry run, nothing kept): enrollments=1"
        assert count(built, enrollments, enrollments.c.id == 30) == 1
        done = runner.invoke(main, ["load", str(gone), "--mode", "delete"])
        assert done.exit_code == 0, done.output
        assert done.output.splitlines() == [
            "deleted: enrollments=1",
            "refreshed root account(s): 10",
        ]
        again = runner.invoke(main, ["load", str(gone), "--mode", "delete"])
        assert again.exit_code == 1
        assert "enrollments.csv:2: no enrollments row with id 30" in again.output
        assert "nothing was changed" in again.output
        bad = runner.invoke(main, ["load", str(gone), "--mode", "replace"])
        assert bad.exit_code == 2
    finally:
        get_settings.cache_clear()
    with built.connect() as conn:
        name = conn.execute(select(users.c.name).where(users.c.id == 20)).scalar_one()
    assert name == "Ann Archer-Smith"


def test_load_keeps_the_score_text(built: Engine, tmp_path: Path) -> None:
    """scores.<kind>_score_text follows the scores on insert (CSV) and on upsert (JSON Lines,
    some scores given, or none), whatever their shape; a file cannot give it."""
    kinds = ["current", "final", "unposted_current", "unposted_final", "override"]
    cols = [f"{k}_score" for k in kinds]
    values = [*ODD_SCORES, *([None] * (-len(ODD_SCORES) % 10))]
    first, rest = values[:10], values[10:]

    def cell(v: float | None) -> str:
        return "" if v is None else repr(v)  # nan, inf, -inf, 1e+20, -0.0...

    csv_rows = [
        ",".join([str(i + 1), str(30 + i), "true", *map(cell, first[5 * i : 5 * i + 5])])
        for i in range(2)
    ]
    body = "id,enrollment_id,course_score," + ",".join(cols) + "\n" + "\n".join(csv_rows) + "\n"
    load_directory(built, write(tmp_path / "ins", {"scores.csv": body}))
    assert assert_score_text(built) == 2
    for n in range(0, len(rest), 10):
        chunk = rest[n : n + 10]
        lines = [
            json.dumps(
                {"id": i + 1, **dict(zip(cols[: 3 + i], chunk[5 * i : 5 * i + 3 + i], strict=True))}
            )
            for i in range(2)
        ]
        load_directory(
            built,
            write(tmp_path / f"up{n}", {"scores.jsonl": "\n".join(lines) + "\n"}),
            mode="upsert",
        )
        assert assert_score_text(built) == 2
    load_directory(
        built,
        write(tmp_path / "state", {"scores.jsonl": '{"id": 1, "workflow_state": "deleted"}\n'}),
        mode="upsert",
    )
    assert assert_score_text(built) == 2
    given = {"scores.csv": "id,enrollment_id,current_score,current_score_text\n9,30,1.5,1.5\n"}
    assert errors_of(built, write(tmp_path / "given", given), mode="upsert") == [
        "scores.csv:1: unknown column(s): current_score_text"
    ]
