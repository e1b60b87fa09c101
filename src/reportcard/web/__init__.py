"""The Reports page: server-rendered Jinja2 pages with htmx (vendored), sign-in and sessions."""
