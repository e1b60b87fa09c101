"""The HTTP API: the Account Reports endpoints and the account, term and file endpoints."""
