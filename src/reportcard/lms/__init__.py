"""The LMS data model the reports read, and the ways data gets into it."""
