"""Who may read reports where: the permission matrix over real tokens on a real server."""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import SAMPLE, World
from tests.patience import ANSWER

ACCOUNTS = ("root", "sub", "subsub", "sibling", "other_root")

# who -> the accounts where they hold read_reports (all others: 403; no token: 401)
ALLOWED = {
    "admin": {"root", "sub", "subsub", "sibling"},
    "viewer": {"root", "sub", "subsub", "sibling"},  # custom role granting read_reports
    "subadmin": {"sub", "subsub"},  # own subtree only
    "helpdesk": set(),  # custom admin role without read_reports
    "nobody": set(),
    "otheradmin": {"other_root"},  # another root account
}


def call(world: World, who: str | None, method: str, path: str) -> httpx.Response:
    headers = {} if who is None else {"Authorization": f"Bearer {world.tokens[who]}"}
    return httpx.request(method, f"{world.base}{path}", headers=headers, timeout=ANSWER)


@pytest.mark.parametrize("who", [*ALLOWED, None])
@pytest.mark.parametrize("account", ACCOUNTS)
def test_matrix_over_account_endpoints(world: World, who: str | None, account: str) -> None:
    acct = getattr(world, account)
    paths = [
        ("GET", f"/api/v1/accounts/{acct}"),
        ("GET", f"/api/v1/accounts/{acct}/reports"),
        ("GET", f"/api/v1/accounts/{acct}/reports/{SAMPLE}"),
        ("GET", f"/api/v1/accounts/{acct}/sub_accounts"),
        ("GET", f"/api/v1/accounts/{acct}/terms"),
        ("GET", f"/api/v1/accounts/{acct}/reports/{SAMPLE}/1"),
        ("PUT", f"/api/v1/accounts/{acct}/reports/{SAMPLE}/1/abort"),
        ("DELETE", f"/api/v1/accounts/{acct}/reports/{SAMPLE}/1"),
        # authorization comes before the report type is checked
        ("POST", f"/api/v1/accounts/{acct}/reports/no_such_csv"),
    ]
    for method, path in paths:
        r = call(world, who, method, path)
        if who is None:
            assert r.status_code == 401, (method, path)
        elif account in ALLOWED[who]:
            # allowed: a real answer (run 1 is not in these accounts, so 404 there)
            assert r.status_code in (200, 404), (method, path, r.text)
            if (method, path) in paths[:5]:
                assert r.status_code == 200
        else:
            assert r.status_code == 403, (who, method, path, r.text)
            assert r.json() == {
                "status": "unauthorized",
                "errors": [{"message": "user not authorized to perform that action"}],
            }


def test_sub_account_admin_sees_only_their_subtree_in_lists(world: World) -> None:
    r = call(world, "subadmin", "GET", "/api/v1/accounts")
    assert [a["id"] for a in r.json()] == [world.sub]
    r = call(world, "subadmin", "GET", f"/api/v1/accounts/{world.sub}/sub_accounts")
    assert [a["id"] for a in r.json()] == [world.subsub]
    assert call(world, "nobody", "GET", "/api/v1/accounts").json() == []


def test_sub_account_admin_cannot_reach_a_root_run(world: World) -> None:
    headers = {"Authorization": f"Bearer {world.tokens['admin']}"}
    created = httpx.post(
        f"{world.base}/api/v1/accounts/{world.root}/reports/{SAMPLE}",
        data={"parameters[perm]": "1"},
        headers=headers,
        timeout=ANSWER,
    ).json()
    for who, expected in (("subadmin", 403), ("otheradmin", 403), ("admin", 200)):
        r = call(
            world, who, "GET", f"/api/v1/accounts/{world.root}/reports/{SAMPLE}/{created['id']}"
        )
        assert r.status_code == expected, who
        # addressing the run through an account they do administer finds nothing
        r = call(
            world, who, "GET", f"/api/v1/accounts/{world.sub}/reports/{SAMPLE}/{created['id']}"
        )
        assert r.status_code in (403, 404), who
        assert "parameters" not in r.json()


def test_terms_come_from_the_root_account(world: World) -> None:
    r = call(world, "subadmin", "GET", f"/api/v1/accounts/{world.sub}/terms")
    names = [t["name"] for t in r.json()["enrollment_terms"]]
    assert names == ["Fall 2024"]
    assert r.json()["enrollment_terms"][0]["sis_term_id"] == "fall24"
