"""reportcard: a self-hosted account report engine speaking the Canvas Account Reports API."""

__version__ = "0.1.0"
