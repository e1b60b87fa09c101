"""The report catalog: one module per report family, each registering its declarations."""

from reportcard.reports import sis_export as sis_export  # noqa: F401
