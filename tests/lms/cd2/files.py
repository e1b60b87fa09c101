"""Hand-written CD2 files for the importer's tests, following spec canvas-data-2.md §3 only.

A table is a list of records ``{"id": key, "ts": meta.ts, "action": "U"|"D", **values}``
(values: int, float, str, bool, None, dict for a nested struct, list for an array). The
writers below spell them as DAP does: JSONL (nulls omitted, ``D`` lines without ``value``),
TSV (PostgreSQL COPY escapes, ``\\N``), CSV (RFC 4180, unquoted ``NULL``), Parquet, each
tabular one ``expanded`` (one column per struct member) or ``condensed`` (one JSON column).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

Rec = dict[str, Any]
TS0 = "2024-05-01T10:00:00Z"
TS1 = "2024-05-02T04:00:00Z"
TS2 = "2024-05-03T04:00:00.250Z"


def _columns(records: list[Rec], condensed: bool, structs: dict[str, tuple[str, ...]]) -> list[str]:
    names: list[str] = []
    for rec in records:
        for k in rec:
            if k in ("id", "ts", "action") or k in names:
                continue
            names.append(k)
    out = []
    for n in names:
        if n in structs and not condensed:
            out.extend(f"{n}.{m}" for m in structs[n])
        else:
            out.append(n)
    return out


def _cell(rec: Rec, col: str, condensed: bool, structs: dict[str, tuple[str, ...]]) -> Any:
    if "." in col:
        parent, member = col.split(".", 1)
        d = rec.get(parent)
        return None if d is None else d.get(member)
    v = rec.get(col)
    if col in structs and isinstance(v, dict):
        members = {k: x for k, x in v.items() if x is not None}
        return members or None  # condensed: NULL when every member is null
    return v


def _text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dict | list):
        return json.dumps(v, separators=(",", ":"))
    return str(v)


def _tsv_escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _csv_field(v: Any) -> str:
    if v is None:
        return "NULL"
    s = _text(v)
    if s == "" or s == "NULL" or any(c in s for c in '",\r\n\t'):
        return '"' + s.replace('"', '""') + '"'
    return s


def tsv(
    records: list[Rec],
    *,
    condensed: bool = False,
    structs: dict[str, tuple[str, ...]] | None = None,
    action: bool = True,
) -> bytes:
    structs = structs or {}
    cols = _columns(records, condensed, structs)
    head = ["meta.ts"] + (["meta.action"] if action else []) + ["key.id"]
    lines = ["\t".join(head + [f"value.{c}" for c in cols])]
    for r in records:
        cells = [r["ts"]] + ([r.get("action", "U")] if action else []) + [str(r["id"])]
        for c in cols:
            v = None if r.get("action") == "D" else _cell(r, c, condensed, structs)
            cells.append("\\N" if v is None else _tsv_escape(_text(v)))
        lines.append("\t".join(cells))
    return ("\n".join(lines) + "\n").encode()


def csv(
    records: list[Rec],
    *,
    condensed: bool = False,
    structs: dict[str, tuple[str, ...]] | None = None,
) -> bytes:
    structs = structs or {}
    cols = _columns(records, condensed, structs)
    lines = [",".join(["meta.ts", "meta.action", "key.id"] + [f"value.{c}" for c in cols])]
    for r in records:
        cells = [r["ts"], r.get("action", "U"), str(r["id"])]
        for c in cols:
            if r.get("action") == "D":
                cells.append("")  # "missing": nothing between the commas
            else:
                cells.append(_csv_field(_cell(r, c, condensed, structs)))
        lines.append(",".join(cells))
    return ("\r\n".join(lines) + "\r\n").encode()


def jsonl(records: list[Rec]) -> bytes:
    out = []
    for r in records:
        meta: Rec = {"ts": r["ts"]}
        if r.get("action"):
            meta["action"] = r["action"]
        obj: Rec = {"meta": meta, "key": {"id": r["id"]}}
        if r.get("action") != "D":
            value = {}
            for k, v in r.items():
                if k in ("id", "ts", "action") or v is None:
                    continue
                if isinstance(v, dict):
                    v = {m: x for m, x in v.items() if x is not None}
                value[k] = v
            obj["value"] = value
        out.append(json.dumps(obj))
    return ("\n".join(out) + "\n").encode()


def parquet(records: list[Rec], path: Path) -> None:
    """Flat columns named like the tabular header (the layout is unconfirmed, spec §3)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols = _columns(records, True, {})
    data: dict[str, list[Any]] = {"meta.ts": [], "meta.action": [], "key.id": []}
    for c in cols:
        data[f"value.{c}"] = []
    for r in records:
        data["meta.ts"].append(r["ts"])
        data["meta.action"].append(r.get("action", "U"))
        data["key.id"].append(r["id"])
        for c in cols:
            v = None if r.get("action") == "D" else r.get(c)
            data[f"value.{c}"].append(json.dumps(v) if isinstance(v, dict | list) else v)
    pq.write_table(pa.table(data), path)


def write(path: Path, data: bytes, *, gz: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path
