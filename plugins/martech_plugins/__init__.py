"""Non-vendor plugins that ship with martech: file sources, computed traits, recommenders."""
