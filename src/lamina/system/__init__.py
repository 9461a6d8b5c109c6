"""Whole-data-root views: disk usage (``system df``), consistency (``system check``), ``info``."""
