"""Tokens, permissions, unreachable servers and databases: clear messages and exit codes."""

from __future__ import annotations

import pytest

from reportcard.settings import Settings
from tests.cli.conftest import Place, invoke, serving
from tests.runs.sample import SAMPLE
from tests.serving import free_port

REPORT_COMMANDS = (
    ("reports", "list"),
    ("run", SAMPLE, "--param", "logins=true"),
    ("reports", "status", SAMPLE, "1"),
    ("reports", "history", SAMPLE),
    ("reports", "download", SAMPLE, "1"),
    ("reports", "abort", SAMPLE, "1"),
    ("reports", "delete", SAMPLE, "1"),
)


def test_a_bad_token_exits_3(served: Place) -> None:
    env = {**served.env, "REPORTCARD_URL": served.url, "REPORTCARD_TOKEN": "1~not-a-token"}
    for args in REPORT_COMMANDS:
        result = invoke(list(args), env)
        assert result.exit_code == 3, (args, result.stderr)
        assert result.stderr == (
            f"error: the server {served.url} refused the token: Invalid access token.\n"
        )


def test_no_permission_exits_3(served: Place) -> None:
    nobody = served.invoke("reports", "list", token="nobody")
    assert nobody.exit_code == 3
    assert nobody.stderr.startswith(f"error: not authorized on {served.url}: user not authorized")
    # A sub-account admin sees their sub-account, not the root above it.
    assert (
        served.invoke("reports", "list", "--account", str(served.sub), token="subadmin").exit_code
        == 0
    )
    above = served.invoke("run", SAMPLE, "--account", str(served.root), token="subadmin")
    assert above.exit_code == 3 and "not authorized" in above.stderr


def test_url_and_token_come_from_the_environment(served: Place) -> None:
    env = {**served.env, "REPORTCARD_URL": served.url, "REPORTCARD_TOKEN": served.tokens["admin"]}
    result = invoke(["reports", "list", "--json"], env)
    assert result.exit_code == 0, result.stderr
    assert '"report": "provisioning_csv"' in result.stdout


def test_an_unreachable_server_exits_4(served: Place) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    env = {**served.env, "REPORTCARD_URL": dead, "REPORTCARD_TOKEN": "anything"}
    for args in REPORT_COMMANDS:
        result = invoke(list(args), env)
        assert result.exit_code == 4, (args, result.stderr)
        assert result.stderr.startswith(f"error: cannot reach {dead}: ")
        assert "Traceback" not in result.stderr


def test_bad_remote_options_exit_2(served: Place) -> None:
    no_token = invoke(["reports", "list", "--url", served.url], served.env)
    assert no_token.exit_code == 2
    assert no_token.stderr == "error: --url needs --token (or REPORTCARD_TOKEN)\n"
    scheme = invoke(["reports", "list", "--url", "ftp://example", "--token", "x"], served.env)
    assert scheme.exit_code == 2 and "http:// or https://" in scheme.stderr


def test_an_unreachable_database_exits_4(direct: Place) -> None:
    url = f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none"
    env = {**direct.env, "REPORTCARD_DATABASE_URL": url}
    for args in REPORT_COMMANDS[:3]:
        result = invoke(list(args), env)
        assert result.exit_code == 4, (args, result.stderr)
        assert result.stderr.startswith(f"error: cannot reach the database {url}: ")


def test_direct_account_forms(direct: Place) -> None:
    bad = direct.invoke("reports", "list", "--account", "College of Arts")
    assert bad.exit_code == 2
    assert "use an account id, `self` or `sis_account_id:<sis id>`" in bad.stderr
    assert direct.invoke("reports", "list", "--account", "self").exit_code == 0


@pytest.mark.skipif(
    "report_start_rate" not in Settings.model_fields, reason="no start limits on this server"
)
def test_a_server_refusing_for_now_exits_1(served: Place) -> None:
    limited = served.settings.model_copy(
        update={"report_start_rate": 0.001, "report_start_burst": 1}
    )
    with serving(limited, workers=0) as url:
        remote = ["--url", url, "--token", served.tokens["admin"]]
        first = invoke(["run", SAMPLE, "--param", "logins=true", *remote], served.env)
        assert first.exit_code == 0, first.stderr
        second = invoke(["run", SAMPLE, "--param", "empty=true", *remote], served.env)
    assert second.exit_code == 1
    assert second.stderr.startswith("error: the server refused for now: ")
    assert "(try again in " in second.stderr
