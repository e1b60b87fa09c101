"""``accounts list``, ``terms list``, ``reports list`` descriptions, help texts and ``--url``
forms, on the database and against a server (the ``place`` fixture)."""

from __future__ import annotations

from tests.cli.conftest import Place, invoke
from tests.runs.sample import SAMPLE


def test_accounts_list_shows_the_tree_below_an_account(place: Place) -> None:
    rows = place.json("accounts", "list", "--account", str(place.root))
    names = [r["name"] for r in rows]
    assert names == ["Canvas U", "College of Arts", "Music", "College of Science"]
    assert [r["sis_account_id"] for r in rows][1:] == ["ARTS", "MUSIC", "SCI"]
    assert rows[2]["parent_account_id"] == place.sub
    text = place.invoke("accounts", "list", "--account", str(place.root))
    assert text.exit_code == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].split() == ["id", "sis_account_id", "name"]
    assert lines[2].endswith("  College of Arts") and lines[3].endswith("    Music")
    below = place.json("accounts", "list", "--account", str(place.sub), token="subadmin")
    assert [r["name"] for r in below] == ["College of Arts", "Music"]


def test_accounts_list_without_account(place: Place) -> None:
    names = {r["name"] for r in place.json("accounts", "list")}
    # The database holds every institution; a server shows what the token's user administers.
    mine = {"Canvas U", "College of Arts", "Music", "College of Science"}
    assert names == (mine | {"Other U"} if not place.url else mine)


def test_terms_list_names_ids_a_report_takes(place: Place) -> None:
    terms = place.json("terms", "list", "--account", str(place.sub))
    fall = next(t for t in terms if t["name"] == "Fall 2024")
    assert fall["sis_term_id"] == "fall24" and fall["workflow_state"] == "active"
    assert set(fall) >= {"id", "name", "start_at", "end_at", "sis_term_id", "workflow_state"}
    text = place.invoke("terms", "list")
    assert text.exit_code == 0, text.stderr
    assert any(
        line.split()[:3] == [str(fall["id"]), "fall24", "Fall"] for line in text.stdout.splitlines()
    )
    missing = place.invoke("terms", "list", "--account", "999999")
    assert missing.exit_code == 3
    assert missing.stderr.startswith("error: no account 999999 ")


def test_reports_list_shows_parameter_descriptions(direct: Place) -> None:
    out = direct.invoke("reports", "list").stdout
    block = out.split("\nprovisioning_csv", 1)[1].split("\n\n")[0]
    assert "    parameters (* required):" in out
    users = next(line for line in block.splitlines() if line.strip().startswith("users "))
    assert len(users.split(None, 1)[1]) > 5  # a description, not the name again
    assert f"\n{SAMPLE}" in out


def test_url_may_end_in_api_v1(served: Place) -> None:
    for base in (f"{served.url}/api/v1", f"{served.url}/api/v1/"):
        result = invoke(
            ["reports", "list", "--json", "--url", base, "--token", served.tokens["admin"]],
            served.env,
        )
        assert result.exit_code == 0, result.stderr


def test_help_lists_whole_sentences() -> None:
    top = invoke(["--help"], {})
    assert top.exit_code == 0
    commands = top.stdout.split("Commands:", 1)[1]
    assert "..." not in commands
    assert "(exit 1 if, waited for, it ends in error or\n" in commands  # wrapped, not cut
    assert "terms" in top.stdout and "accounts" in top.stdout
    for group in ("reports", "token", "cd2", "schedules", "accounts", "terms"):
        sub = invoke([group, "--help"], {})
        assert sub.exit_code == 0 and "..." not in sub.stdout.split("Commands:", 1)[1], group
