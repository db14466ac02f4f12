"""Filled in by the case page work (see webapp/cases/__init__.py)."""
