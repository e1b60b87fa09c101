"""The OpenAPI document describes what the server really answers: real responses validate
against the declared schemas, and the error statuses each operation can give are declared."""

from __future__ import annotations

from typing import Any

import httpx
import jsonschema
import pytest

from tests.patience import ANSWER
from tests.runs.sample import SAMPLE
from tests.security.conftest import World, client, finish, reports_url


def schema_for(doc: dict[str, Any], path: str, method: str, status: str) -> dict[str, Any]:
    content = doc["paths"][path][method]["responses"][status]["content"]
    return {**content["application/json"]["schema"], "components": doc["components"]}


def test_real_answers_match_the_declared_schemas(world: World) -> None:
    doc = httpx.get(f"{world.base}/openapi.json", timeout=ANSWER).json()
    with client(world.base, world.tokens["admin"]) as c:
        run = c.post(reports_url(world.root, SAMPLE), data={"parameters[o]": "1"}).json()
        done = finish(c, reports_url(world.root, SAMPLE, run["id"]))
        pairs = [
            ("/api/v1/accounts/{account_id}/reports/{report}/{run_id}", "get", done),
            ("/api/v1/accounts/{account_id}/reports/{report}", "post", run),
            (
                "/api/v1/accounts/{account_id}/reports/{report}",
                "get",
                c.get(reports_url(world.root, SAMPLE)).json(),
            ),
            (
                "/api/v1/accounts/{account_id}/reports",
                "get",
                c.get(reports_url(world.root)).json(),
            ),
            ("/api/v1/accounts", "get", c.get("/api/v1/accounts").json()),
            (
                "/api/v1/files/{file_id}",
                "get",
                c.get(f"/api/v1/files/{done['attachment']['id']}").json(),
            ),
            (
                "/api/v1/accounts/{account_id}/audit_events",
                "get",
                c.get(f"/api/v1/accounts/{world.root}/audit_events").json(),
            ),
        ]
        missing = c.get(reports_url(world.root, SAMPLE, 10**9))
    for path, method, body in pairs:
        jsonschema.validate(body, schema_for(doc, path, method, "200"))
    jsonschema.validate(
        missing.json(),
        schema_for(doc, "/api/v1/accounts/{account_id}/reports/{report}/{run_id}", "get", "404"),
    )
    # and the schemas do constrain: a Report without its keys is refused
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(
            {"id": 1},
            schema_for(
                doc, "/api/v1/accounts/{account_id}/reports/{report}/{run_id}", "get", "200"
            ),
        )


def test_every_operation_declares_its_error_answers(world: World) -> None:
    doc = httpx.get(f"{world.base}/openapi.json", timeout=ANSWER).json()
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            codes = set(op["responses"])
            assert {"200", "400", "401", "403", "404", "413"} <= codes, (method, path)
            assert "422" not in codes, (method, path)  # validation errors answer 400
    start = doc["paths"]["/api/v1/accounts/{account_id}/reports/{report}"]["post"]["responses"]
    assert "Retry-After" in start["429"]["headers"]
    assert "Location" in start["409"]["headers"]
