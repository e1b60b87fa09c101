"""The Reports page over plain HTTP: sign-in, sessions, CSRF, runs, downloads, permissions."""

from __future__ import annotations

import io
import re
import zipfile

import httpx
from sqlalchemy import func, select, update

from reportcard.db.tables import account_reports, attachments
from reportcard.db.web_tables import web_sessions
from tests.patience import ANSWER
from tests.web.conftest import FORMULA_NAME, PASSWORDS, Site
from tests.web.helpers import csrf_of, sign_in, wait_run

BOM = b"\xef\xbb\xbf"


def _runs_path(site: Site, account: int, report: str) -> str:
    return f"/accounts/{account}/reports/{report}"


def test_unsigned_visitor_is_sent_to_sign_in(site: Site) -> None:
    with httpx.Client(base_url=site.base, timeout=ANSWER) as client:
        answer = client.get(f"/accounts/{site.root}/reports")
        assert answer.status_code == 303
        assert answer.headers["location"] == f"/login?next=/accounts/{site.root}/reports"
        htmx = client.get(f"/accounts/{site.root}/reports", headers={"HX-Request": "true"})
        assert htmx.headers["HX-Redirect"].startswith("/login")


def test_password_sign_in_sets_a_hardened_cookie(site: Site) -> None:
    client = httpx.Client(base_url=site.base, timeout=ANSWER)
    page = client.get("/login")
    answer = client.post(
        "/login",
        data={
            "csrf_token": csrf_of(page.text),
            "method": "password",
            "login": "admin",
            "password": PASSWORDS["admin"],
        },
    )
    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    home = client.get("/accounts", follow_redirects=True)
    assert home.status_code == 200
    assert "Ada Admin" in home.text
    assert "Provisioning" in home.text and "All Terms" in home.text
    assert home.headers["content-security-policy"].startswith("default-src 'self'")


def test_wrong_password_and_unknown_login_are_refused_alike(site: Site) -> None:
    client = httpx.Client(base_url=site.base, timeout=ANSWER)
    for login, password in (("admin", "not the password"), ("nosuchlogin", "whatever12")):
        page = client.get("/login")
        answer = client.post(
            "/login",
            data={
                "csrf_token": csrf_of(page.text),
                "method": "password",
                "login": login,
                "password": password,
            },
        )
        assert answer.status_code == 401
        assert "The login or password is incorrect." in answer.text
        assert "reportcard_session" not in answer.headers.get("set-cookie", "")


def test_token_sign_in_and_bad_token(site: Site) -> None:
    client = sign_in(site.base, token=site.tokens["viewer"])
    assert "Vic Viewer" in client.get("/accounts", follow_redirects=True).text
    other = httpx.Client(base_url=site.base, timeout=ANSWER)
    page = other.get("/login")
    answer = other.post(
        "/login",
        data={"csrf_token": csrf_of(page.text), "method": "token", "access_token": "1~nope"},
    )
    assert answer.status_code == 401
    assert "Invalid access token." in answer.text


def test_sign_in_form_needs_its_csrf_cookie(site: Site) -> None:
    client = httpx.Client(base_url=site.base, timeout=ANSWER)
    client.get("/login")
    answer = client.post(
        "/login",
        data={
            "csrf_token": "forged",
            "method": "password",
            "login": "admin",
            "password": PASSWORDS["admin"],
        },
    )
    assert answer.status_code == 403
    assert "reportcard_session" not in answer.headers.get("set-cookie", "")


def test_posts_without_or_with_a_wrong_csrf_token_are_refused(site: Site) -> None:
    client = sign_in(site.base, "admin", PASSWORDS["admin"])
    path = _runs_path(site, site.root, "framework_slow_csv")
    good = csrf_of(client.get(f"/accounts/{site.root}/reports").text)
    for data, headers in (
        ({}, {}),
        ({"csrf_token": "wrong"}, {}),
        ({}, {"X-CSRF-Token": "wrong", "HX-Request": "true"}),
        ({"csrf_token": good}, {"Origin": "http://evil.example"}),
    ):
        answer = client.post(path, data=data, headers=headers)
        assert answer.status_code == 403, data
        assert "did not come from this site" in answer.text
    with site.engine.connect() as conn:
        from reportcard.db.tables import account_reports

        started = conn.execute(
            select(func.count()).where(account_reports.c.report_type == "framework_slow_csv")
        ).scalar_one()
    assert started == 0


def test_validation_errors_come_back_as_text(site: Site) -> None:
    client = sign_in(site.base, "admin", PASSWORDS["admin"])
    token = csrf_of(client.get(f"/accounts/{site.root}/reports").text)
    # Provisioning with no file ticked, a bad course and a bad term.
    answer = client.post(
        _runs_path(site, site.root, "provisioning_csv"),
        data={"csrf_token": token, "parameters[enrollment_term_id]": "999999"},
        headers={"HX-Request": "true"},
    )
    assert answer.status_code == 422
    assert "Choose at least one file to include." in answer.text
    assert "Choose a term from the list." in answer.text
    dates = client.post(
        _runs_path(site, site.root, "students_with_no_submissions_csv"),
        data={
            "csrf_token": token,
            "parameters[start_at]": "2024-02-10",
            "parameters[end_at]": "2024-02-01",
            "parameters[course_id]": "not a course",
        },
        headers={"HX-Request": "true"},
    )
    assert dates.status_code == 422
    assert "The end date must not be before the start date." in dates.text
    assert "Enter a course id" in dates.text
    # Without JavaScript: the same answer as a whole page; a good form redirects back.
    plain = client.post(_runs_path(site, site.root, "provisioning_csv"), data={"csrf_token": token})
    assert plain.status_code == 422 and plain.text.startswith("<!doctype html>")
    assert "Choose at least one file to include." in plain.text
    good = client.post(
        _runs_path(site, site.root, "provisioning_csv"),
        data={"csrf_token": token, "parameters[terms]": "true"},
    )
    assert good.status_code == 303
    assert good.headers["location"] == f"/accounts/{site.root}/reports#report-provisioning_csv"


def test_run_poll_download_with_bom_and_formula_safety(site: Site) -> None:
    client = sign_in(site.base, "admin", PASSWORDS["admin"])
    token = csrf_of(client.get(f"/accounts/{site.root}/reports").text)
    answer = client.post(
        _runs_path(site, site.root, "provisioning_csv"),
        data={
            "csrf_token": token,
            "parameters[users]": "true",
            "parameters[accounts]": "true",
            "parameters[enrollment_term_id]": "",
        },
        headers={"HX-Request": "true"},
    )
    assert answer.status_code == 200, answer.text
    assert "Provisioning report started." in answer.text
    run_id = int(re.search(r'id="run-(\d+)"', answer.text).group(1))  # type: ignore[union-attr]
    base = f"{_runs_path(site, site.root, 'provisioning_csv')}/runs/{run_id}"
    done = wait_run(client, base)
    assert "Complete" in done and 'value="100"' in done
    assert "hx-trigger" not in done  # polling stops
    ui = client.get(f"{base}/download")
    assert ui.status_code == 200
    api_token = site.tokens["admin"]
    api = httpx.get(
        f"{site.base}/api/v1/accounts/{site.root}/reports/provisioning_csv/{run_id}",
        headers={"Authorization": f"Bearer {api_token}"},
        timeout=ANSWER,
    ).json()
    raw = httpx.get(
        api["attachment"]["url"],
        headers={"Authorization": f"Bearer {api_token}"},
        follow_redirects=True,
        timeout=ANSWER,
    ).content
    with zipfile.ZipFile(io.BytesIO(raw)) as zin, zipfile.ZipFile(io.BytesIO(ui.content)) as zui:
        assert zui.namelist() == zin.namelist() == ["users.csv", "accounts.csv"]
        api_users = zin.read("users.csv")
        ui_users = zui.read("users.csv")
    assert not api_users.startswith(BOM)
    assert FORMULA_NAME.encode().replace(b'"', b'""') in api_users
    assert ui_users.startswith(BOM)
    assert b"'" + FORMULA_NAME.encode().replace(b'"', b'""') in ui_users
    # Every other row is unchanged, byte for byte.
    same = [line for line in api_users.split(b"\n") if b"HYPERLINK" not in line]
    assert [line for line in ui_users[3:].split(b"\n") if b"HYPERLINK" not in line] == same


def test_a_file_removed_by_retention_is_said_so_instead_of_a_download(site: Site) -> None:
    client = sign_in(site.base, "admin", PASSWORDS["admin"])
    token = csrf_of(client.get(f"/accounts/{site.root}/reports").text)
    answer = client.post(
        _runs_path(site, site.root, "provisioning_csv"),
        data={"csrf_token": token, "parameters[users]": "true", "parameters[tag]": "kept"},
        headers={"HX-Request": "true"},
    )
    run_id = int(re.search(r'id="run-(\d+)"', answer.text).group(1))  # type: ignore[union-attr]
    base = f"{_runs_path(site, site.root, 'provisioning_csv')}/runs/{run_id}"
    done = wait_run(client, base)
    assert f'href="{base}/download"' in done
    with site.engine.begin() as conn:  # what the retention sweep does to the attachment
        att_id = conn.execute(
            select(account_reports.c.attachment_id).where(account_reports.c.id == run_id)
        ).scalar_one()
        conn.execute(
            update(attachments).where(attachments.c.id == att_id).values(workflow_state="expired")
        )
    shown = client.get(base).text
    assert "The file was removed after the retention period." in shown
    assert f'href="{base}/download"' not in shown
    assert client.get(f"{base}/download").status_code == 410


def test_sub_account_admin_sees_only_their_subtree(site: Site) -> None:
    client = sign_in(site.base, "subadmin", PASSWORDS["subadmin"])
    home = client.get("/accounts")
    assert home.headers["location"] == f"/accounts/{site.sub}/reports"
    page = client.get(f"/accounts/{site.sub}/reports")
    assert page.status_code == 200
    switcher = page.text.split('id="account-switch"')[1].split("</select>")[0]
    options = re.findall(r'<option value="(\d+)"', switcher)
    assert {int(o) for o in options} == {site.sub, site.subsub}
    for account in (site.root, site.sibling, site.other_root):
        refused = client.get(f"/accounts/{account}/reports")
        assert refused.status_code == 404
        assert "you may not see its reports" in refused.text
    assert client.get(f"/accounts/{site.subsub}/reports").status_code == 200


def test_sign_out_ends_the_session_on_the_server(site: Site) -> None:
    client = sign_in(site.base, "admin", PASSWORDS["admin"])
    secret = client.cookies.get("reportcard_session")
    assert secret
    page = client.get(f"/accounts/{site.root}/reports")
    out = client.post("/logout", data={"csrf_token": csrf_of(page.text)})
    assert out.status_code == 303 and out.headers["location"] == "/login?signed_out=1"
    replay = httpx.get(
        f"{site.base}/accounts/{site.root}/reports",
        cookies={"reportcard_session": secret},
        timeout=ANSWER,
    )
    assert replay.status_code == 303  # the stolen cookie is worthless now
    with site.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(web_sessions)).scalar_one() >= 0


def test_sis_import_page_upload_progress_counts_and_messages(site: Site) -> None:
    client = sign_in(site.base, "admin", PASSWORDS["admin"])
    page = client.get(f"/accounts/{site.root}/sis_import")
    assert page.status_code == 200 and "Import a file" in page.text
    token = csrf_of(page.text)
    users_csv = (
        "user_id,login_id,first_name,last_name,email,status\n"
        "sis-1,web.one,Web,One,one@example.edu,active\n"
        "sis-2,web.two,Web,Two,two@example.edu,bogus\n"
    )
    empty = client.post(
        f"/accounts/{site.root}/sis_import",
        params={"csrf_token": token},  # the form's action URL carries it (checked before the body)
        files={"attachment": ("", b"", "application/octet-stream")},
    )
    assert empty.status_code == 422 and "Choose a CSV or zip file" in empty.text
    refused = client.post(
        f"/accounts/{site.root}/sis_import",
        params={"csrf_token": "wrong"},
        files={"attachment": ("users.csv", users_csv.encode(), "text/csv")},
    )
    assert refused.status_code == 403
    started = client.post(
        f"/accounts/{site.root}/sis_import",
        headers={"X-CSRF-Token": token},
        files={"attachment": ("users.csv", users_csv.encode(), "text/csv")},
    )
    assert started.status_code == 303
    listing = client.get(f"/accounts/{site.root}/sis_import").text
    import_id = int(re.search(r'id="import-(\d+)"', listing).group(1))  # type: ignore[union-attr]
    done = wait_run(client, f"/accounts/{site.root}/sis_import/{import_id}")
    assert "Imported with messages" in done
    assert re.search(r"<th scope=\"row\">users</th><td>1</td>", done), done
    assert "users.csv" in done and "bogus" in done
    # A sub-account admin has no SIS import page.
    sub = sign_in(site.base, "subadmin", PASSWORDS["subadmin"])
    assert sub.get(f"/accounts/{site.sub}/sis_import").status_code == 404
    assert "SIS Import" not in sub.get(f"/accounts/{site.sub}/reports").text


def test_the_api_limits_on_starting_runs_hold_on_the_page(site: Site) -> None:
    client = sign_in(site.base, token=site.tokens["otheradmin"])
    reports = f"/accounts/{site.other_root}/reports"
    token = csrf_of(client.get(reports).text)
    path = _runs_path(site, site.other_root, "framework_slow_csv")
    before = site.settings.max_queued_runs
    site.settings.max_queued_runs = 1
    try:
        first = client.post(path, data={"csrf_token": token}, headers={"HX-Request": "true"})
        assert first.status_code == 200
        run_id = int(re.search(r'id="run-(\d+)"', first.text).group(1))  # type: ignore[union-attr]
        second = client.post(
            path,
            data={"csrf_token": token, "parameters[k]": "true"},
            headers={"HX-Request": "true"},
        )
        assert second.status_code == 429
        assert "reports waiting or running (the limit is 1)" in second.text
    finally:
        site.settings.max_queued_runs = before
        client.post(f"{path}/runs/{run_id}/abort", data={"csrf_token": token})


def test_password_guessing_is_slowed(site: Site) -> None:
    from reportcard.web.throttle import LIMIT, SIGN_INS

    client = httpx.Client(base_url=site.base, timeout=ANSWER)
    try:
        for attempt in range(LIMIT + 1):
            page = client.get("/login")
            answer = client.post(
                "/login",
                data={
                    "csrf_token": csrf_of(page.text),
                    "method": "password",
                    "login": "subadmin",
                    # The right password once the limit is reached: still refused.
                    "password": PASSWORDS["subadmin"] if attempt == LIMIT else f"guess {attempt}",
                },
            )
            assert answer.status_code == 401
        assert "Too many failed sign-ins for this login." in answer.text
    finally:
        SIGN_INS.succeeded("subadmin", "127.0.0.1")
    assert sign_in(site.base, "subadmin", PASSWORDS["subadmin"])
