"""Hostile or broken input: a clear error, and nothing changed. BOM and CRLF are accepted."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import Engine

from reportcard.db.tables import accounts
from reportcard.settings import Settings
from tests.lms.sis_import.helpers import rows, snapshot, zip_of

GOOD = "account_id,parent_account_id,name,status\nARTS,,Arts,active\n"


def _failed(db: Engine, sis, data, name=None, **kw):  # type: ignore[no-untyped-def]
    before = snapshot(db)
    result = sis(data, name, **kw)
    assert result.state == "failed_with_messages", result.messages
    assert snapshot(db) == before
    assert result.counts == {}
    return result.errors


def test_binary_file(db: Engine, sis) -> None:  # type: ignore[no-untyped-def]
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" + bytes(range(256))
    assert _failed(db, sis, png, "photo.png") == [
        ("photo.png", 3, "Binary data (a NUL byte): not a CSV file")
    ]
    latin1 = "account_id,parent_account_id,name,status\nA,,Caf\u00e9,active\n".encode("latin-1")
    assert _failed(db, sis, latin1, "a.csv") == [("a.csv", 2, "Invalid UTF-8")]


def test_nul_bytes_are_not_csv(db: Engine, sis) -> None:  # type: ignore[no-untyped-def]
    data = GOOD.encode() + b"BAD,\x00,x,active\n"
    assert _failed(db, sis, data, "a.csv") == [
        ("a.csv", 3, "Binary data (a NUL byte): not a CSV file")
    ]


def test_invalid_utf8_in_one_file_stops_the_whole_zip(db: Engine, sis) -> None:  # type: ignore[no-untyped-def]
    bad = b"user_id,login_id,full_name,status\nU1,u1,Ann,active\n" + b"U2,u2,\xff\xfe,active\n"
    errors = _failed(db, sis, {"accounts.csv": GOOD, "users.csv": bad})
    assert errors == [("users.csv", 3, "Invalid UTF-8")]


def test_malformed_csv_and_unknown_headers(db: Engine, sis) -> None:  # type: ignore[no-untyped-def]
    errors = _failed(
        db,
        sis,
        {
            "accounts.csv": GOOD,
            "broken.csv": 'account_id,parent_account_id,name,status\nA,,"Arts,active\n',
            "other.csv": "foo,bar\n1,2\n",
        },
    )
    assert errors[0][0] == "broken.csv" and errors[0][2].startswith("Malformed CSV")
    assert errors[1] == ("other.csv", 1, "Couldn't find Canvas CSV import headers")


@pytest.mark.parametrize("entry", ["../evil.csv", "/etc/evil.csv", "a/../../evil.csv", "C:/x.csv"])
def test_unsafe_zip_entry_names(db: Engine, sis, entry: str) -> None:  # type: ignore[no-untyped-def]
    errors = _failed(db, sis, {"accounts.csv": GOOD, entry: GOOD})
    assert errors == [
        (
            entry,
            None,
            "Zip entry with an unsafe path (absolute or containing '..'); nothing was imported.",
        )
    ]


def test_zip_bomb_by_ratio(db: Engine, sis) -> None:  # type: ignore[no-untyped-def]
    bomb = GOOD + ("A" * 60 + "\n") * 200_000  # ~12 MB that deflates to a few KB
    errors = _failed(db, sis, {"accounts.csv": bomb})
    assert len(errors) == 1 and "over the unpacked-size limit" in errors[0][2]


def test_zip_bomb_by_size(db: Engine, sis, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path, sis_import_max_unpacked_bytes=1000)
    errors = _failed(db, sis, {"accounts.csv": GOOD * 40}, settings=settings)
    assert "more than 1000 bytes" in errors[0][2]


def test_lying_zip_sizes_are_caught_while_unpacking(db: Engine, sis) -> None:  # type: ignore[no-untyped-def]
    data = bytearray(zip_of({"accounts.csv": GOOD + ("B" * 50 + "\n") * 50_000}))
    # Rewrite the declared uncompressed size (local header and central directory) to 10.
    payload_size = len(GOOD) + 51 * 50_000
    declared = payload_size.to_bytes(4, "little")
    data = bytearray(bytes(data).replace(declared, (10).to_bytes(4, "little")))
    before = snapshot(db)
    result = sis(bytes(data), "lying.zip")
    assert result.state == "failed_with_messages"
    assert snapshot(db) == before


def test_file_over_the_size_limit(db: Engine, sis, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path, sis_import_max_bytes=20)
    errors = _failed(db, sis, GOOD, "a.csv", settings=settings)
    assert errors == [
        ("a.csv", None, f"The file is {len(GOOD)} bytes, over the limit of 20 bytes.")
    ]


def test_too_many_zip_entries(db: Engine, sis, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path, sis_import_max_files=2)
    errors = _failed(db, sis, {f"{i}.csv": GOOD for i in range(3)}, settings=settings)
    assert errors == [(None, None, "The zip holds 3 entries, over the limit of 2.")]


def test_not_a_zip_really(db: Engine, sis) -> None:  # type: ignore[no-untyped-def]
    errors = _failed(db, sis, b"PK\x03\x04garbage", "x.zip")
    assert errors[0][2].startswith("Not a readable zip file")


def test_bom_and_crlf_are_accepted(db: Engine, sis) -> None:  # type: ignore[no-untyped-def]
    data = ("\ufeff" + GOOD.replace("\n", "\r\n") + "MUSIC,ARTS,Music,active\r\n").encode()
    result = sis(data, "accounts.csv")
    assert result.state == "imported", result.messages
    assert rows(db, accounts, "sis_source_id name parent_account_id", accounts.c.id > 1) == [
        ("ARTS", "Arts", 1),
        ("MUSIC", "Music", 2),
    ]


def test_other_entries_are_skipped_with_a_warning(db: Engine, sis) -> None:  # type: ignore[no-untyped-def]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("accounts.csv", GOOD)
        zf.writestr("README.txt", "hello")
        zf.writestr("__MACOSX/._accounts.csv", b"\x00\x05\x16\x07")
        zf.writestr("empty.csv", "\n\n")
    result = sis(buf.getvalue(), "sis.zip")
    assert result.state == "imported_with_messages"
    assert result.warnings == [("README.txt", None, "Skipping unknown file type")]
    assert rows(db, accounts, "sis_source_id", accounts.c.id > 1) == [("ARTS",)]


def test_an_empty_zip(db: Engine, sis) -> None:  # type: ignore[no-untyped-def]
    assert _failed(db, sis, zip_of({}), "empty.zip") == [
        ("empty.zip", None, "No CSV data found to import.")
    ]


def test_a_lost_upload_fails_cleanly(db: Engine, tmp_path: Path) -> None:
    from reportcard.lms.sis_import.job import create_import, run_import
    from reportcard.storage.local import LocalStorage

    with db.begin() as conn:
        import_id = create_import(
            conn,
            account_id=1,
            user_id=None,
            upload_key="sis_imports/gone/sis.zip",
            upload_name="sis.zip",
            upload_size=10,
            state="importing",
        )
    state = run_import(db, LocalStorage(tmp_path), Settings(data_dir=tmp_path), import_id)
    assert state == "failed_with_messages"
