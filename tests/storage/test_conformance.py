"""What every storage backend promises, run on each of them (local; S3 on moto's server).

The suite is parametrized over ``reportcard.storage.BACKENDS``: a backend added there runs it
too. Each test gets an empty store of its own (a directory; an S3 key prefix).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from reportcard.clock import utcnow
from reportcard.storage import Storage
from tests.patience import ANSWER

KEY = "runs/1/parts/000-00000.csv"


def put(storage: Storage, key: str, data: bytes) -> None:
    with storage.open_write(key) as out:
        out.write(data)


def get(storage: Storage, key: str) -> bytes:
    with storage.open_read(key) as src:
        return src.read()


def keys(storage: Storage, prefix: str = "") -> list[str]:
    return sorted(f.key for f in storage.list(prefix))


def test_written_bytes_read_back_with_their_size(storage: Storage) -> None:
    data = bytes(range(256)) * 3 + b'a,b\r\n"x"\n'
    with storage.open_write(KEY) as out:
        out.write(data[:100])
        out.write(data[100:])
    assert storage.exists(KEY)
    assert storage.size(KEY) == len(data)
    assert get(storage, KEY) == data


def test_reads_stream_in_pieces(storage: Storage) -> None:
    put(storage, KEY, b"abcdefgh")
    with storage.open_read(KEY) as src:
        assert src.read(3) == b"abc"
        assert src.read(3) == b"def"
        assert src.read() == b"gh"
        assert src.read(1) == b""


def test_an_empty_object_is_an_object(storage: Storage) -> None:
    put(storage, "runs/2/empty.csv", b"")
    assert storage.exists("runs/2/empty.csv")
    assert storage.size("runs/2/empty.csv") == 0
    assert get(storage, "runs/2/empty.csv") == b""


def test_a_writer_tells_and_seeks_back(storage: Storage) -> None:
    with storage.open_write(KEY) as out:
        assert out.seekable() and out.writable()
        out.write(b"abcdef")
        assert out.tell() == 6
        out.seek(0)
        out.write(b"X")
        out.seek(0, 2)
        out.write(b"g")
        out.flush()
    assert get(storage, KEY) == b"Xbcdefg"


def test_an_object_appears_only_when_its_writer_closes(storage: Storage) -> None:
    out = storage.open_write(KEY)
    out.write(b"half of it")
    out.flush()
    assert not storage.exists(KEY)
    with pytest.raises(FileNotFoundError):
        storage.open_read(KEY)
    out.close()
    assert get(storage, KEY) == b"half of it"
    out.close()  # closing again changes nothing
    assert get(storage, KEY) == b"half of it"


def test_a_rewrite_replaces_the_object_whole_when_it_closes(storage: Storage) -> None:
    put(storage, KEY, b"old bytes")
    with storage.open_write(KEY) as out:
        out.write(b"new")
        assert get(storage, KEY) == b"old bytes"
    assert get(storage, KEY) == b"new"
    assert storage.size(KEY) == 3


def test_a_write_ended_by_an_error_leaves_nothing(storage: Storage) -> None:
    with pytest.raises(RuntimeError), storage.open_write(KEY) as out:
        out.write(b"partial")
        raise RuntimeError("the shard died")
    assert not storage.exists(KEY)
    assert keys(storage) == []


def test_a_failed_rewrite_keeps_the_earlier_object(storage: Storage) -> None:
    put(storage, KEY, b"complete")
    with pytest.raises(RuntimeError), storage.open_write(KEY) as out:
        out.write(b"part")
        raise RuntimeError("the compile died")
    assert get(storage, KEY) == b"complete"
    assert keys(storage) == [KEY]


def test_an_aborted_write_leaves_nothing(storage: Storage) -> None:
    out = storage.open_write(KEY)
    out.write(b"partial")
    out.abort()  # type: ignore[attr-defined]
    assert not storage.exists(KEY)
    assert keys(storage) == []


def test_a_missing_key(storage: Storage) -> None:
    assert not storage.exists("runs/9/none.csv")
    with pytest.raises(FileNotFoundError):
        storage.open_read("runs/9/none.csv")
    with pytest.raises(FileNotFoundError):
        storage.size("runs/9/none.csv")
    storage.delete("runs/9/none.csv")  # deleting what is not there is no error
    storage.delete_prefix("runs/9/")
    assert keys(storage) == []


def test_keys_may_hold_spaces_and_other_letters(storage: Storage) -> None:
    key = "sis_imports/7/Fall term (naïve).csv"
    put(storage, key, b"x\n")
    assert get(storage, key) == b"x\n"
    assert keys(storage, "sis_imports/") == [key]


def test_a_copy_has_the_bytes_and_outlives_its_source(storage: Storage) -> None:
    data = b"a,b\n" * 1000
    put(storage, KEY, data)
    put(storage, "runs/1/out.csv", b"old")
    storage.copy(KEY, "runs/1/out.csv")  # replaces what the key held
    storage.copy(KEY, "runs/2/x.csv")
    assert get(storage, KEY) == data
    storage.delete_prefix("runs/1/parts")
    assert get(storage, "runs/1/out.csv") == get(storage, "runs/2/x.csv") == data
    assert keys(storage) == ["runs/1/out.csv", "runs/2/x.csv"]
    with pytest.raises(FileNotFoundError):
        storage.copy(KEY, "runs/3/y.csv")
    assert not storage.exists("runs/3/y.csv")


def test_delete_removes_one_key(storage: Storage) -> None:
    put(storage, "runs/3/a.csv", b"a")
    put(storage, "runs/3/b.csv", b"b")
    storage.delete("runs/3/a.csv")
    assert not storage.exists("runs/3/a.csv")
    assert keys(storage) == ["runs/3/b.csv"]


@pytest.mark.parametrize("prefix", ["runs/1", "runs/1/"])
def test_delete_prefix_removes_the_keys_under_it_and_no_others(
    storage: Storage, prefix: str
) -> None:
    for key in ["runs/1/out.zip", "runs/1/parts/000-00000.csv", "runs/1/parts/001-00000.csv"]:
        put(storage, key, b"x")
    put(storage, "runs/10/out.zip", b"other run")
    put(storage, "sis_imports/1/upload.csv", b"upload")
    storage.delete_prefix(prefix)
    assert keys(storage) == ["runs/10/out.zip", "sis_imports/1/upload.csv"]


def test_list_gives_every_key_with_its_size_and_naive_utc_time(storage: Storage) -> None:
    assert keys(storage) == []
    put(storage, "runs/1/parts/000-00000.csv", b"ab\n")
    put(storage, "runs/1/out.zip", b"zip bytes")
    put(storage, "sis_imports/x/u.csv", b"a\n")
    listed = {f.key: f.size for f in storage.list()}
    assert listed == {
        "runs/1/parts/000-00000.csv": 3,
        "runs/1/out.zip": 9,
        "sis_imports/x/u.csv": 2,
    }
    assert keys(storage, "runs/") == ["runs/1/out.zip", "runs/1/parts/000-00000.csv"]
    assert keys(storage, "runs/1/parts/") == ["runs/1/parts/000-00000.csv"]
    assert keys(storage, "nothing/") == []
    for f in storage.list():
        assert f.modified.tzinfo is None
        assert abs(f.modified - utcnow()) < timedelta(hours=1)


@pytest.mark.parametrize("prefix", ["runs/1", "runs/1/"])
def test_list_takes_a_prefix_as_whole_path_segments(storage: Storage, prefix: str) -> None:
    """``runs/1`` names run 1's folder: run 10's keys are not under it."""
    put(storage, "runs/1/out.zip", b"one")
    put(storage, "runs/10/out.zip", b"ten")
    put(storage, "runs/1x", b"a sibling file")
    assert keys(storage, prefix) == ["runs/1/out.zip"]


def test_list_of_a_key_gives_that_key(storage: Storage) -> None:
    put(storage, "runs/1/out.zip", b"one")
    put(storage, "runs/1/out.zip.bak", b"other")
    assert keys(storage, "runs/1/out.zip") == ["runs/1/out.zip"]


@pytest.mark.parametrize("key", ["../escape", "runs/../../escape", "/etc/passwd"])
def test_a_key_cannot_escape_the_store(storage: Storage, key: str) -> None:
    with pytest.raises(ValueError):
        storage.open_write(key)
    with pytest.raises(ValueError):
        storage.open_read(key)
    with pytest.raises(ValueError):
        storage.exists(key)
    with pytest.raises(ValueError):
        storage.delete(key)
    assert keys(storage) == []


def test_a_big_object_round_trips(storage: Storage) -> None:
    """Bigger than boto3's multipart threshold (8 MiB): S3 uploads it in parts."""
    chunk = bytes(range(256)) * 4096  # 1 MiB
    with storage.open_write("runs/4/big.csv") as out:
        for i in range(9):
            out.write(bytes([i]) + chunk[1:])
    assert storage.size("runs/4/big.csv") == 9 * len(chunk)
    with storage.open_read("runs/4/big.csv") as src:
        for i in range(9):
            assert src.read(len(chunk)) == bytes([i]) + chunk[1:]
        assert src.read() == b""


def test_a_local_path_or_a_presigned_url_gives_the_same_bytes(storage: Storage) -> None:
    """What a download may use instead of ``open_read``, when the backend offers it."""
    put(storage, KEY, b"a,b\n1,2\n")
    path = storage.local_path(KEY)
    if path is not None:
        assert Path(path).read_bytes() == b"a,b\n1,2\n"
    url = storage.presigned_url(KEY, "report.csv", "text/csv")
    if url is not None:
        fetched = httpx.get(url, timeout=ANSWER)
        assert fetched.status_code == 200
        assert fetched.content == b"a,b\n1,2\n"
        assert fetched.headers["content-disposition"] == 'attachment; filename="report.csv"'
