"""``python -m reportcard.cli``: the same as the ``reportcard`` command."""

from reportcard.cli import main

main()
