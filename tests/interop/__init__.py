"""Interop tests against the real JavaScript libraries (see README.md)."""
