"""The storage backends by name: ``REPORTCARD_STORAGE_BACKEND`` picks one.

Each backend is a :class:`~reportcard.storage.base.Storage` class with a ``from_settings``
constructor that reads its own settings (``local``: ``REPORTCARD_STORAGE_DIR``; ``s3``: the
``REPORTCARD_S3_*`` settings) and refuses incomplete ones with a ``ValueError``. Adding a
backend means a module beside these, its settings (documented in docs/configuration.md), one
line in ``BACKENDS``, and a parameter of the conformance suite in tests/storage/.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from reportcard.settings import Settings
from reportcard.storage.base import Storage
from reportcard.storage.local import LocalStorage
from reportcard.storage.s3 import S3Storage

BackendFactory = Callable[[Settings], Storage]

# Importing the S3 module is cheap: boto3 is imported when an S3Storage is made.
BACKENDS: Mapping[str, BackendFactory] = MappingProxyType(
    {
        "local": LocalStorage.from_settings,
        "s3": S3Storage.from_settings,
    }
)


def storage_from_settings(settings: Settings) -> Storage:
    """The backend ``settings.storage_backend`` names, made from its own settings."""
    factory = BACKENDS.get(settings.storage_backend)
    if factory is None:
        known = ", ".join(sorted(BACKENDS))
        raise ValueError(
            f"REPORTCARD_STORAGE_BACKEND={settings.storage_backend!r} is not a storage backend"
            f" (one of: {known})"
        )
    return factory(settings)
