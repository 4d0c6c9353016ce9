"""Vendor connectors that ship with martech, each registered through the ``martech`` entry points."""
