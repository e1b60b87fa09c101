"""``/api/v1/accounts/:id/report_webhooks`` end to end: a real server whose embedded workers
deliver to a real receiver on loopback (allowed by ``webhook_allowed_hosts``)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from reportcard.db.engine import dispose_all, make_engine
from reportcard.notify.webhooks import SIGNATURE_HEADER, verify_signature
from reportcard.settings import Settings
from tests.api.conftest import SAMPLE, World, build_world
from tests.databases import drop_database, fresh_database_url
from tests.notify.test_webhooks import Receiver
from tests.patience import ANSWER, PATIENCE
from tests.serving import serving_reportcard


@pytest.fixture(scope="module")
def hook_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp: Path = tmp_path_factory.mktemp("hookserver")
    url = fresh_database_url(tmp)
    settings = Settings(
        data_dir=tmp, database_url=url, poll_seconds=0.05, shard_rows=10,
        webhook_allowed_hosts="127.0.0.1", webhook_poll_seconds=0.1,
        webhook_retry_seconds=0.2, webhook_max_attempts=4,
    )  # fmt: skip
    engine = make_engine(url)
    made = build_world(engine)
    try:
        with serving_reportcard(settings, workers=2) as base:
            yield World(engine=engine, base=base, **made)  # type: ignore[arg-type]
    finally:
        dispose_all()
        drop_database(url)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver([])
    r.thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


def client(world: World, who: str | None = "admin") -> httpx.Client:
    headers = {} if who is None else {"Authorization": f"Bearer {world.tokens[who]}"}
    return httpx.Client(base_url=world.base, headers=headers, timeout=ANSWER)


def hooks(account: int | str, *rest: object) -> str:
    return "/".join([f"/api/v1/accounts/{account}/report_webhooks", *map(str, rest)])


def wait_for(predicate: Any, timeout: float = PATIENCE) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_register_run_receive_verify(hook_world: World, receiver: Receiver) -> None:
    receiver.plan = [502]  # the first attempt fails; the server retries
    with client(hook_world) as c:
        r = c.post(hooks(hook_world.sub), json={"url": receiver.url})
        assert r.status_code == 200, r.text
        made = r.json()
        secret = made["secret"]
        assert secret.startswith("whsec_") and len(secret) > 30
        assert made["events"] == ["report.completed", "report.failed"]
        shown = c.get(hooks(hook_world.sub, made["id"])).json()
        assert "secret" not in shown and shown["url"] == receiver.url
        assert all("secret" not in h for h in c.get(hooks(hook_world.sub)).json())

        # a run on a sub-sub-account reaches the sub-account's endpoint
        run = c.post(f"/api/v1/accounts/{hook_world.subsub}/reports/{SAMPLE}").json()
        wait_for(lambda: len(receiver.got) >= 2)
        for headers, raw in receiver.got:
            assert verify_signature(secret, headers[SIGNATURE_HEADER.lower()], raw)
        event = json.loads(receiver.got[-1][1])
        assert event["event"] == "report.completed" and event["report"]["id"] == run["id"]
        assert event["report"]["account_id"] == hook_world.subsub

        wait_for(lambda: c.get(hooks(hook_world.sub, made["id"], "deliveries")).json()[0][
            "state"] == "delivered")  # fmt: skip
        (log,) = c.get(hooks(hook_world.sub, made["id"], "deliveries")).json()
        assert (log["state"], log["attempts"], log["status_code"], log["last_error"]) == (
            "delivered", 2, 200, None,
        )  # fmt: skip
        assert log["run_id"] == run["id"] and log["event"] == "report.completed"

        # rotate the secret: shown once more, and new deliveries use it
        r = c.put(
            hooks(hook_world.sub, made["id"]),
            json={"rotate_secret": True, "events": ["report.failed"]},
        )
        assert r.status_code == 200 and r.json()["secret"] != secret
        assert r.json()["events"] == ["report.failed"]
        assert c.delete(hooks(hook_world.sub, made["id"])).status_code == 200
        assert c.get(hooks(hook_world.sub, made["id"])).status_code == 404


@pytest.mark.parametrize(
    ("sent", "message"),
    [
        ({"url": "http://169.254.169.254/latest/meta-data/"}, "non-public"),
        ({"url": "http://10.0.0.7/hook"}, "non-public"),
        ({"url": "http://[::1]:8080/hook"}, "non-public"),
        # IPv6 forms that embed a loopback, private or metadata IPv4 address (issue #17).
        ({"url": "http://[2002:7f00:1::]/hook"}, "non-public"),  # 6to4 of 127.0.0.1
        ({"url": "http://[2002:a9fe:a9fe::1]/hook"}, "non-public"),  # 6to4 of 169.254.169.254
        ({"url": "http://[64:ff9b::7f00:1]/hook"}, "non-public"),  # NAT64 of 127.0.0.1
        ({"url": "http://[::ffff:7f00:1]/hook"}, "non-public"),  # IPv4-mapped 127.0.0.1
        ({"url": "http://[::127.0.0.1]/hook"}, "non-public"),  # IPv4-compatible
        ({"url": "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/hook"}, "non-public"),  # Teredo
        ({"url": "ftp://127.0.0.1/x"}, "http:// or https://"),
        ({"url": "http://no-such-host.invalid/x"}, "does not resolve"),
        ({"url": "http://[::1/x"}, "http:// or https://"),
        ({"url": "http://127.0.0.1:99999/x"}, "invalid port"),
        ({"url": ["http://127.0.0.1/x"]}, "url is required"),
        ({}, "url is required"),
        ({"url": "http://127.0.0.1/x", "events": ["report.started"]}, "events must be"),
        ({"url": "http://127.0.0.1/x", "events": []}, "events must be"),
    ],
)
def test_bad_registrations_are_400(hook_world: World, sent: dict[str, Any], message: str) -> None:
    with client(hook_world) as c:
        r = c.post(hooks(hook_world.root), json=sent)
        assert r.status_code == 400, r.text
        assert message in r.json()["errors"][0]["message"]


def test_auth(hook_world: World) -> None:
    with client(hook_world, None) as c:
        assert c.get(hooks(hook_world.root)).status_code == 401
    with client(hook_world, "helpdesk") as c:
        assert c.post(hooks(hook_world.root), json={"url": "http://127.0.0.1/x"}).status_code \
            == 403  # fmt: skip
    with client(hook_world) as c:
        made = c.post(hooks(hook_world.root), json={"url": "http://127.0.0.1:9/x"}).json()
        assert c.get(hooks(hook_world.sub, made["id"])).status_code == 404
        assert c.get(hooks(hook_world.root, "x1")).status_code == 404
        assert c.get(hooks(hook_world.root, "\u00b2")).status_code == 404
        assert c.get(hooks(hook_world.root, "9" * 40)).status_code == 404
        assert c.get(hooks(hook_world.root, made["id"], "deliveries")).json() == []
        assert c.delete(hooks(hook_world.root, made["id"])).status_code == 200
    with client(hook_world, "subadmin") as c:
        assert c.get(hooks(hook_world.root)).status_code == 403
