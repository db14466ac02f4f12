"""Filled in by the issue 12 work."""
