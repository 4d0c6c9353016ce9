"""Suite-wide settings. Fixtures for users live in martech.testing.plugin (pytest11)."""
