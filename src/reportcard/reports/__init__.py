"""The report catalog: one module per report family, each registering its declarations."""
