"""Canvas SIS CSV import: the files of ``doc/api/sis_csv.md``, upserted by SIS id.

Layout: :mod:`.formats` (file types, header detection, statuses), :mod:`.reader` (safe
unpacking and reading, checked before anything is written), :mod:`.values` (fields),
:mod:`.bulk` and :mod:`.context` (batched writes, lookups, messages), one module per family
of files (:mod:`.accounts`, :mod:`.courses`, :mod:`.users`, :mod:`.enrollments`,
:mod:`.groups`, :mod:`.links`, :mod:`.change_sis_id`), and :mod:`.job` (the queue, progress,
the final state and the errors file). ``docs/sis-import.md`` describes the behaviour.
"""

from __future__ import annotations

from reportcard.lms.sis_import.job import (
    abort_import,
    create_import,
    get_import,
    run_import,
    upload_key,
    work_one,
)

__all__ = ["abort_import", "create_import", "get_import", "run_import", "upload_key", "work_one"]
