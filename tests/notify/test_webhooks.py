"""Webhooks against a real HTTP receiver on loopback: signatures, retries, refused addresses."""

from __future__ import annotations

import ipaddress
import json
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select

from reportcard.db.schedule_tables import report_webhooks, webhook_deliveries
from reportcard.notify.webhooks import (
    SIGNATURE_HEADER,
    AddressRefused,
    backoff,
    check_url,
    embedded_ipv4,
    send_due,
    sign,
    verify_signature,
)
from reportcard.runs.lifecycle import create_run
from reportcard.settings import Settings
from tests.notify.test_schedules_dispatch import finish
from tests.runs.sample import SAMPLE, make_institution

T = datetime(2031, 3, 2, 9, 0)


class Receiver:
    """An HTTP server that records POSTs and answers with the next status of ``plan``."""

    def __init__(self, plan: list[int]) -> None:
        self.plan = list(plan)
        self.got: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.got.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = receiver.plan.pop(0) if receiver.plan else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/reportcard?x=1"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver([])
    r.thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


@pytest.fixture
def hook_settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path, shard_rows=1000, webhook_allowed_hosts="127.0.0.1",
        webhook_retry_seconds=10, webhook_max_attempts=3,
        public_url="https://reports.example.edu/",
    )  # fmt: skip


def add_hook(engine: Engine, account: int, url: str, events: list[str] | None = None) -> Any:
    with engine.begin() as conn:
        pk = conn.execute(
            insert(report_webhooks).values(
                account_id=account, url=url, secret="whsec_test_secret",
                events=events or ["report.completed", "report.failed"], enabled=True,
                workflow_state="active", created_at=T, updated_at=T,
            )
        ).inserted_primary_key  # fmt: skip
        assert pk is not None
        return int(pk[0])


def deliveries(engine: Engine) -> Sequence[Any]:
    with engine.connect() as conn:
        return conn.execute(select(webhook_deliveries).order_by(webhook_deliveries.c.id)).all()


def complete_a_run(engine: Engine, settings: Settings, root: int, tmp_path: Path) -> Any:
    with engine.begin() as conn:
        run_id = create_run(conn, account_id=root, root_account_id=root, user_id=None,
                            report_type=SAMPLE, parameters={})  # fmt: skip
    run = finish(engine, settings, run_id, tmp_path)
    assert run.workflow_state == "complete"
    return run


@pytest.fixture
def root(engine: Engine) -> int:
    with engine.begin() as conn:
        return make_institution(conn, 5)


def test_signed_event_verifies_at_the_receiver(
    engine: Engine, root: int, receiver: Receiver, hook_settings: Settings, tmp_path: Path
) -> None:
    add_hook(engine, root, receiver.url)
    add_hook(engine, root, receiver.url, events=["report.failed"])  # not this event
    run = complete_a_run(engine, hook_settings, root, tmp_path)
    (d,) = deliveries(engine)
    assert d.state == "pending" and d.event == "report.completed" and d.run_id == run.id

    assert send_due(engine, hook_settings, T) == 1
    (headers, body) = receiver.got[0]
    assert verify_signature("whsec_test_secret", headers[SIGNATURE_HEADER.lower()], body,
                            now=headers_time(headers))  # fmt: skip
    assert headers[SIGNATURE_HEADER.lower()] == sign(
        "whsec_test_secret", headers_time(headers), body
    )
    assert headers_time(headers) == int(T.replace(tzinfo=UTC).timestamp())  # the send time
    assert not verify_signature("wrong", headers[SIGNATURE_HEADER.lower()], body,
                                now=headers_time(headers))  # fmt: skip
    assert not verify_signature("whsec_test_secret", headers[SIGNATURE_HEADER.lower()],
                                body + b" ", now=headers_time(headers))  # fmt: skip
    assert not verify_signature("whsec_test_secret", headers[SIGNATURE_HEADER.lower()], body,
                                now=headers_time(headers) + 3600)  # fmt: skip
    assert headers["x-reportcard-event"] == "report.completed"
    assert headers["x-reportcard-delivery"] == d.uuid
    assert headers["host"] == f"127.0.0.1:{receiver.port}"
    event = json.loads(body)
    assert event["event"] == "report.completed"
    assert event["report"]["id"] == run.id and event["report"]["status"] == "complete"
    assert event["report"]["report"] == SAMPLE and event["report"]["account_id"] == root
    assert event["report"]["file_url"] == (
        f"https://reports.example.edu/accounts/{root}/files/{run.attachment_id}/download"
    )
    assert event["report"]["ended_at"].endswith("Z")
    (d,) = deliveries(engine)
    assert (d.state, d.attempts, d.last_status_code, d.last_error) == ("delivered", 1, 200, None)
    assert send_due(engine, hook_settings, T + timedelta(hours=1)) == 0  # nothing left


def headers_time(headers: dict[str, str]) -> int:
    return int(headers[SIGNATURE_HEADER.lower()].split(",")[0].split("=")[1])


def test_retries_with_backoff_until_the_receiver_answers(
    engine: Engine, root: int, receiver: Receiver, hook_settings: Settings, tmp_path: Path
) -> None:
    receiver.plan = [500, 503]
    add_hook(engine, root, receiver.url)
    complete_a_run(engine, hook_settings, root, tmp_path)
    assert send_due(engine, hook_settings, T) == 1
    (d,) = deliveries(engine)
    assert (d.state, d.attempts, d.last_status_code, d.last_error) == (
        "pending", 1, 500, "HTTP 500"
    )  # fmt: skip
    assert d.next_attempt_at == T + timedelta(seconds=10)
    assert send_due(engine, hook_settings, T + timedelta(seconds=5)) == 0  # not yet due
    assert send_due(engine, hook_settings, T + timedelta(seconds=10)) == 1
    (d,) = deliveries(engine)
    assert (d.attempts, d.last_status_code) == (2, 503)
    assert d.next_attempt_at == T + timedelta(seconds=30)  # 10 s, then 20 s more
    assert send_due(engine, hook_settings, T + timedelta(seconds=30)) == 1
    (d,) = deliveries(engine)
    assert (d.state, d.attempts, d.last_status_code) == ("delivered", 3, 200)
    assert len(receiver.got) == 3
    uuids = {json.loads(body)["delivery_id"] for _, body in receiver.got}
    assert uuids == {d.uuid}  # the same event each time


def test_gives_up_after_max_attempts(
    engine: Engine, root: int, hook_settings: Settings, tmp_path: Path, receiver: Receiver
) -> None:
    receiver.server.shutdown()
    receiver.server.server_close()  # nobody listens any more: connection refused
    add_hook(engine, root, receiver.url)
    complete_a_run(engine, hook_settings, root, tmp_path)
    now = T
    for _ in range(3):
        assert send_due(engine, hook_settings, now) == 1
        now += timedelta(hours=1)
    (d,) = deliveries(engine)
    assert (d.state, d.attempts, d.last_status_code) == ("failed", 3, None)
    assert "Connect" in (d.last_error or "")
    assert send_due(engine, hook_settings, now + timedelta(days=1)) == 0


def test_failed_run_event(engine: Engine, root: int, hook_settings: Settings,
                          receiver: Receiver) -> None:  # fmt: skip
    from reportcard.runs.lifecycle import fail_run

    add_hook(engine, root, receiver.url, events=["report.failed"])
    with engine.begin() as conn:
        run_id = create_run(conn, account_id=root, root_account_id=root, user_id=None,
                            report_type=SAMPLE, parameters={})  # fmt: skip
        fail_run(conn, run_id, "Failed, test;")
    assert send_due(engine, hook_settings, T) == 1
    event = json.loads(receiver.got[0][1])
    assert event["event"] == "report.failed"
    assert event["report"]["status"] == "error" and event["report"]["file_url"] is None


def test_disallowed_addresses_are_refused(hook_settings: Settings, tmp_path: Path) -> None:
    strict = Settings(data_dir=tmp_path)
    for url in (
        "http://127.0.0.1:9/x",
        "http://localhost/x",
        "http://10.1.2.3/x",
        "http://192.168.0.10/x",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/x",
        "http://[fd00:ec2::254]/x",
        "http://[::ffff:127.0.0.1]/x",
        "http://0.0.0.0/x",
        "http://100.64.0.1/x",
    ):
        with pytest.raises(AddressRefused):
            check_url(url, strict)
    for url in ("ftp://example.com/x", "file:///etc/passwd", "http:///x", "http://u:p@h/x",
                "not a url", "http://no-such-host.invalid/x"):  # fmt: skip
        with pytest.raises(AddressRefused):
            check_url(url, strict)
    target = check_url("http://127.0.0.1:8080/a?b=1", hook_settings)
    assert target.url == "http://127.0.0.1:8080/a?b=1" and target.host == "127.0.0.1:8080"
    nets = Settings(data_dir=tmp_path, webhook_allowed_hosts=" 10.0.0.0/8 , localhost")
    assert check_url("http://10.9.9.9/x", nets).url == "http://10.9.9.9/x"
    assert check_url("http://localhost:81/x", nets).host == "localhost:81"
    with pytest.raises(AddressRefused):
        check_url("http://192.168.1.1/x", nets)


def test_ipv6_forms_embedding_an_ipv4_address_are_checked_as_that_address(
    tmp_path: Path,
) -> None:
    """6to4, Teredo, NAT64, IPv4-mapped and -compatible: the embedded IPv4 is checked too."""
    strict = Settings(data_dir=tmp_path)
    refused = {
        "2002:7f00:1::": "127.0.0.1",  # 6to4
        "2002:a00:1::": "10.0.0.1",
        "2002:a9fe:a9fe::": "169.254.169.254",
        "2001:0:4136:e378:8000:63bf:80ff:fffe": "127.0.0.1",  # Teredo (client obfuscated)
        "64:ff9b::7f00:1": "127.0.0.1",  # NAT64
        "64:ff9b::a9fe:a9fe": "169.254.169.254",
        "64:ff9b:1::a00:1": "10.0.0.1",  # local-use NAT64
        "::ffff:7f00:1": "127.0.0.1",  # IPv4-mapped
        "::ffff:c0a8:1": "192.168.0.1",
        "::7f00:1": "127.0.0.1",  # IPv4-compatible
    }
    for address, inner in refused.items():
        assert str(ipaddress.IPv4Address(inner)) in map(
            str, embedded_ipv4(ipaddress.ip_address(address))
        )
        with pytest.raises(AddressRefused):
            check_url(f"http://[{address}]:8080/x", strict)
    # The same forms around a public address stay usable.
    for address in ("2002:808:808::1", "64:ff9b::808:808", "::ffff:808:808"):
        assert check_url(f"http://[{address}]/x", strict).host == f"[{address}]"
    # Allowing 127.0.0.1 does not allow an IPv6 form of it.
    with pytest.raises(AddressRefused):
        check_url(
            "http://[2002:7f00:1::]/x",
            Settings(data_dir=tmp_path, webhook_allowed_hosts="127.0.0.0/8"),
        )


def test_address_refused_again_at_send_time(
    engine: Engine, root: int, receiver: Receiver, tmp_path: Path
) -> None:
    # registered while loopback was allowed; the setting is gone when the delivery is sent
    add_hook(engine, root, receiver.url)
    strict = Settings(data_dir=tmp_path, shard_rows=1000)
    complete_a_run(engine, strict, root, tmp_path)
    assert send_due(engine, strict, T) == 1
    (d,) = deliveries(engine)
    assert d.state == "failed" and d.attempts == 1
    assert (d.last_error or "").startswith("refused:") and "non-public" in (d.last_error or "")
    assert receiver.got == []


def test_backoff_doubles_and_caps(hook_settings: Settings) -> None:
    assert [backoff(hook_settings, n).total_seconds() for n in (1, 2, 3, 4)] == [10, 20, 40, 80]
    assert backoff(hook_settings, 40).total_seconds() == 6 * 3600


def test_concurrent_senders_send_each_delivery_once(
    engine: Engine, root: int, receiver: Receiver, hook_settings: Settings, tmp_path: Path
) -> None:
    add_hook(engine, root, receiver.url)
    add_hook(engine, root, receiver.url)
    for _ in range(3):
        complete_a_run(engine, hook_settings, root, tmp_path)
    assert len(deliveries(engine)) == 6
    barrier = threading.Barrier(3)
    counts: list[int] = []

    def sender() -> None:
        barrier.wait(10)
        counts.append(send_due(engine, hook_settings, T))

    threads = [threading.Thread(target=sender) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sum(counts) == 6
    assert len(receiver.got) == 6
    assert {d.state for d in deliveries(engine)} == {"delivered"}
