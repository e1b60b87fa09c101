"""Access tokens and the ``read_reports`` permission."""
