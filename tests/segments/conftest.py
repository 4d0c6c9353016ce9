"""Fixtures for the segment tests: real warehouses (PostgreSQL, local Spark) when available.

Without the server / PySpark / Java a warehouse test is skipped with the reason shown (``-ra``),
except under ``CI=true``: there a missing server is a failure, never a silent skip.

PostgreSQL comes from ``MARTECH_TEST_PG_DSN`` (e.g. ``postgresql://postgres@127.0.0.1:55432/postgres``).
"""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest


def unavailable(reason: str) -> None:
    """Skip locally, fail in CI: a warehouse check that cannot run must not pass quietly."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: warehouse tests must run, not skip)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_conn() -> Iterator[Any]:
    """A psycopg connection to a real PostgreSQL server (autocommit)."""
    dsn = os.environ.get("MARTECH_TEST_PG_DSN")
    if not dsn:
        unavailable("MARTECH_TEST_PG_DSN is not set; no PostgreSQL server to test against")
    try:
        import psycopg
    except ImportError:
        unavailable("psycopg is not installed")
    try:
        conn = psycopg.connect(dsn, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as exc:
        unavailable(f"cannot connect to PostgreSQL at MARTECH_TEST_PG_DSN: {exc}")
    try:
        yield conn
    finally:
        conn.close()


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """A local, single-threaded SparkSession with UTC as session time zone."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        unavailable("pyspark is not installed")
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        unavailable("no Java runtime (java on PATH or JAVA_HOME) for PySpark")
    # Spark's Python workers start `python3` from PATH unless told otherwise: with a venv of
    # another Python (pyenv, Homebrew) they refuse to run ("different minor versions").
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (
        SparkSession.builder.master("local[1]")
        .appName("martech-segments-test")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    try:
        yield session
    finally:
        session.stop()


@contextmanager
def pg_world(pg_conn: Any, data: dict[str, Any]) -> Iterator[Any]:
    """A cursor whose search path is a throwaway schema holding ``data``'s profiles, events,
    items and computed traits (rows per table); the schema is dropped afterwards."""
    schema = f"martech_seg_{uuid.uuid4().hex[:8]}"
    with pg_conn.cursor() as cur:
        cur.execute(f"CREATE SCHEMA {schema}")
        try:
            cur.execute(f"SET search_path TO {schema}")
            cur.execute("CREATE TABLE profiles (id text PRIMARY KEY, traits jsonb NOT NULL)")
            cur.execute(
                "CREATE TABLE events (profile_id text, type text, item_id text, "
                "ts timestamptz, value double precision)"
            )
            cur.execute("CREATE TABLE items (item_id text, category text)")
            cur.execute("CREATE TABLE computed_traits (profile_id text, name text, value jsonb)")
            for table, columns in (
                ("profiles", "id, traits"),
                ("events", "profile_id, type, item_id, ts, value"),
                ("items", "item_id, category"),
                ("computed_traits", "profile_id, name, value"),
            ):
                with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in data[table]:
                        copy.write_row(row)
            yield cur
        finally:
            cur.execute(f"DROP SCHEMA {schema} CASCADE")
