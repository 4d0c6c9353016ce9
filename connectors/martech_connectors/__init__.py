"""Vendor connectors that ship with martech, each registered through a ``martech`` entry point."""
