"""Formats through the HTTP API: 400 for a format that cannot be made, names and types."""

from __future__ import annotations

import io

import httpx
import openpyxl
import pytest

from reportcard.runs import formats
from tests.api.conftest import SAMPLE, World, world
from tests.api.test_http import client, finish, reports_url
from tests.patience import ANSWER

__all__ = ["world"]  # the real server fixture


def test_an_unknown_format_is_a_400_at_start(world: World) -> None:
    with client(world) as c:
        r = c.post(reports_url(world.root, SAMPLE), data={"parameters[format]": "pdf"})
        assert r.status_code == 400
        assert r.json() == {
            "errors": [{"message": "invalid format 'pdf': use one of csv, xlsx, parquet"}]
        }
        r = c.post(reports_url(world.root, SAMPLE), json={"parameters": {"format": ["xlsx"]}})
        assert r.status_code == 400
        assert r.json()["errors"][0]["message"].startswith("invalid format")
        listed = c.get(reports_url(world.root, SAMPLE)).json()
        assert all(run["parameters"].get("format") not in ("pdf", ["xlsx"]) for run in listed)


def test_parquet_without_pyarrow_is_a_clear_400(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(formats, "parquet_available", lambda: False)
    with client(world) as c:
        r = c.post(reports_url(world.root, SAMPLE), data={"parameters[format]": "parquet"})
    assert r.status_code == 400
    message = r.json()["errors"][0]["message"]
    assert "parquet" in message and "reportcard[parquet]" in message


@pytest.mark.parametrize(
    ("fmt", "suffix", "ctype"),
    [
        ("xlsx", ".xlsx", formats.XLSX_TYPE),
        ("parquet", ".parquet", formats.PARQUET_TYPE),
        ("csv", ".csv", "text/csv"),
    ],
)
def test_the_attachment_json_names_the_format(
    world: World, fmt: str, suffix: str, ctype: str
) -> None:
    with client(world) as c:
        r = c.post(
            reports_url(world.root, SAMPLE),
            data={"parameters[format]": fmt, "parameters[logins]": f"format-{fmt}"},
        )
        assert r.status_code == 200, r.text
        body = finish(c, reports_url(world.root, SAMPLE, r.json()["id"]))
        assert body["status"] == "complete"
        att = body["attachment"]
        assert att["filename"].endswith(suffix) and att["display_name"] == att["filename"]
        assert att["content-type"] == ctype
        got = httpx.get(att["url"], timeout=ANSWER)
        assert got.status_code == 200
        assert got.headers["content-type"].startswith(ctype)
        assert att["filename"] in got.headers["content-disposition"]
        assert len(got.content) == att["size"]
        if fmt == "xlsx":
            wb = openpyxl.load_workbook(io.BytesIO(got.content), read_only=True)
            header = next(wb["logins"].iter_rows(values_only=True))
            assert header[:2] == ("canvas_user_id", "login_id")
