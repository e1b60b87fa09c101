"""The spreadsheet transform of downloads: a BOM, formula-safe cells, any chunking, zips."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest

from reportcard.service.spreadsheet import BOM, neutralise, transform_csv, transform_zip


def _through(data: bytes, size: int, **kw: bool) -> bytes:
    chunks = [data[i : i + size] for i in range(0, len(data), size)] or [b""]
    return b"".join(transform_csv(chunks, **kw))


def test_neutralise_cells() -> None:
    assert neutralise("=1+2") == "'=1+2"
    for text in ("+cmd", "-2+3", "@SUM(A1)", "\tx", "\rx", '=HYPERLINK("a")'):
        assert neutralise(text) == "'" + text
    for text in ("-3", "+1.5e3", "-.5", "plain", "", "a=b", "'=x"):
        assert neutralise(text) == text


@pytest.mark.parametrize("size", [1, 3, 7, 1 << 16])
def test_csv_transform_streams_in_any_chunking(size: int) -> None:
    source = (
        'id,name,note\n1,Ann,"=cmd|\' /C calc\'!A0"\n2,"multi\nline =x",-12\n'
        '3,"@SUM(1,2)",+x\n4,"Zoë ✓","tab\tin"\n5,-,ok'
    ).encode()
    out = _through(source, size)
    assert out.startswith(BOM)
    rows = list(csv.reader(io.StringIO(out[3:].decode())))
    assert rows == [
        ["id", "name", "note"],
        ["1", "Ann", "'=cmd|' /C calc'!A0"],
        ["2", "multi\nline =x", "-12"],
        ["3", "'@SUM(1,2)", "'+x"],
        ["4", "Zoë ✓", "tab\tin"],
        ["5", "'-", "ok"],
    ]
    # Untouched rows are byte-identical.
    assert out[3:].startswith(b"id,name,note\n")
    assert b'2,"multi\nline =x",-12\n' in out and b'4,"Zo\xc3\xab \xe2\x9c\x93","tab\tin"\n' in out


def test_csv_transform_options() -> None:
    source = b"a,b\r\n=1,2\r\n"
    assert _through(source, 4, bom=False, formula_safety=False) == source
    assert _through(source, 4, bom=True, formula_safety=False) == BOM + source
    assert _through(source, 4, bom=False, formula_safety=True) == b"a,b\r\n'=1,2\r\n"
    assert _through(BOM + source, 2, bom=True, formula_safety=True) == BOM + b"a,b\r\n'=1,2\r\n"
    assert _through(b"", 1, bom=True) == BOM


def test_zip_transform_keeps_entries_and_order() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("users.csv", "id,name\n1,=evil()\n")
        zf.writestr("notes.txt", "=not csv\n")
        zf.writestr("terms.csv", "id\n" + "".join(f"{i}\n" for i in range(50_000)))
    buf.seek(0)
    out = b"".join(transform_zip(buf))
    with zipfile.ZipFile(io.BytesIO(out)) as zf:
        assert zf.namelist() == ["users.csv", "notes.txt", "terms.csv"]
        assert zf.read("users.csv") == BOM + b"id,name\n1,'=evil()\n"
        assert zf.read("notes.txt") == b"=not csv\n"
        terms = zf.read("terms.csv")
        assert terms.startswith(BOM + b"id\n0\n1\n") and terms.endswith(b"49999\n")
        assert zf.testzip() is None
