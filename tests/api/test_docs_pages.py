"""/docs and /redoc load everything from this server: no CDN, no third-party host."""

from __future__ import annotations

from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from reportcard.app import create_app
from reportcard.db.engine import dispose_all
from reportcard.settings import Settings
from tests.databases import drop_database, fresh_database_url
from tests.patience import ANSWER
from tests.serving import serving


class _Links(HTMLParser):
    """Every ``src`` and ``href`` of a page, and the text of its inline scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.links += [v for k, v in attrs if k in ("src", "href") and v is not None]
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp: Path = tmp_path_factory.mktemp("docs")
    url = fresh_database_url(tmp)
    app = create_app(Settings(data_dir=tmp, database_url=url), workers=0)
    try:
        with serving(app) as served:
            yield served
    finally:
        dispose_all()
        drop_database(url)


@pytest.mark.parametrize(
    ("path", "assets"),
    [
        ("/docs", {"swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"}),
        ("/redoc", {"redoc.standalone.js", "favicon.png"}),
    ],
)
def test_page_and_its_assets_are_same_origin(base: str, path: str, assets: set[str]) -> None:
    with httpx.Client(timeout=ANSWER) as client:
        page = client.get(base + path)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        parsed = _Links()
        parsed.feed(page.text)
        assert {u.rsplit("/", 1)[-1] for u in parsed.links} >= assets
        origin = urlsplit(base)
        for link in parsed.links:
            absolute = urlsplit(urljoin(base + path, link))
            assert (absolute.scheme, absolute.netloc) == (origin.scheme, origin.netloc), link
            asset = client.get(absolute.geturl())
            assert asset.status_code == 200, link
            assert len(asset.content) > 1000, link  # the real file, not an error page
        # the inline script names no other host (Swagger UI's validator badge is off)
        inline = "".join(parsed.scripts)
        assert "http://" not in inline and "https://" not in inline
        if path == "/docs":
            assert '"validatorUrl": null' in inline
        # the OpenAPI document the page loads is served too
        assert client.get(base + "/openapi.json").status_code == 200
