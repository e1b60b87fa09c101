"""The client-visible base URL of a request (honours X-Forwarded-* through uvicorn)."""

from __future__ import annotations

from fastapi import Request


def base_url(request: Request) -> str:
    """``scheme://host[:port][root_path]`` as the client addressed us, without a trailing /."""
    root = request.scope.get("root_path", "") or ""
    return f"{request.url.scheme}://{request.url.netloc}{root}".rstrip("/")
