"""Database access: engine factory, table definitions, migrations."""
