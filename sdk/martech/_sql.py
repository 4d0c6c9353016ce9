"""Quoting for the SQL martech builds itself around names and values it controls.

User values in segment rules never come here: they go through SQLGlot expressions.
"""

from __future__ import annotations


def sql_str(value: str) -> str:
    """``value`` as a SQL string literal (single quotes doubled)."""
    return "'" + value.replace("'", "''") + "'"


def sql_ident(name: str) -> str:
    """``name`` as a quoted SQL identifier (double quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'


def sql_json_path(key: str) -> str:
    """The JSON path of the top-level member ``key`` (``$."key"``), as a SQL string literal."""
    return sql_str('$."' + key.replace('"', '\\"') + '"')
