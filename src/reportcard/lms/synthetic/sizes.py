"""The size table: how big each synthetic institution is."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Size:
    """Target shape of one synthetic institution.

    ``enrollments`` is a target: the generator sizes course rosters to land close to it.
    """

    name: str
    users: int
    courses: int
    enrollments: int
    sub_accounts: int
    sis_terms: int
    description: str

    @property
    def bulk(self) -> bool:
        """Big enough that dropping and recreating secondary indexes pays off."""
        return self.enrollments >= 100_000


SIZES: dict[str, Size] = {
    s.name: s
    for s in (
        Size("tiny", 50, 10, 200, 3, 2, "unit tests: loads in well under a second"),
        Size("small", 2_000, 200, 20_000, 8, 4, "the demo: a few seconds"),
        Size("medium", 20_000, 2_000, 200_000, 24, 6, "integration and load checks"),
        Size("large", 200_000, 20_000, 2_000_000, 200, 8, "benchmarks: 2M enrollments"),
    )
}
