"""The ``conn`` fixture of the report tests: a fresh database holding a hand-made institution."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Connection, Engine


@pytest.fixture
def conn(request: pytest.FixtureRequest, engine: Engine) -> Iterator[Connection]:
    """One transaction over a fresh database, holding the institution the test module names.

    A module sets ``BUILD`` to the function that writes its institution: ``build`` of
    institution.py, activity_institution.py or learning_institution.py.
    """
    build: Callable[[Connection], None] = request.module.BUILD
    with engine.begin() as c:
        build(c)
        yield c
