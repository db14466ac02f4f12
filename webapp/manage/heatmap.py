"""Filled in by the issue 13 work (see webapp/manage/__init__.py)."""
