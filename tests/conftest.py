"""Shared fixtures: one Advisor per test session (compiling and registering the rules is costly)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from advisor.api import Advisor

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"

# A minimal valid rule, for tests that build rule folders of their own.
GIFT_BREACH_RULE = {
    "id": "gift-breach",
    "source": ["1.3.1.c"],
    "when": {"fact": "account.compliance_breaches", "gte": 1},
    "section": "checklist",
    "say": {"en": "x", "zh": "x"},
}


def missing(what: str) -> None:
    """A part some tests need (a browser, WeasyPrint, poppler, axe-core) is not installed: in CI
    (CI=true, where .ci/run installs them all) the test fails; elsewhere it is skipped."""
    if os.environ.get("CI"):
        pytest.fail(f"{what}; .ci/run installs it", pytrace=False)
    pytest.skip(what)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="rewrite the golden briefs from the current output")


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory):
    """Compiled templates go to a cache folder of this test session, never the user's ~/.cache
    (subprocesses inherit it too)."""
    patch = pytest.MonkeyPatch()
    patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
    yield
    patch.undo()


@pytest.fixture(scope="session")
def advisor() -> Advisor:
    return Advisor.load(ROOT / "rules", ROOT / "templates")


@pytest.fixture(scope="session")
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


def with_peak_memory(run: Callable[[], Any]) -> tuple[Any, int]:
    """What `run()` returns, and the most memory Python held at once while it ran (bytes)."""
    import tracemalloc

    tracemalloc.start()
    try:
        result = run()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return result, peak


POSTGRES_ENV = "ADVISOR_TEST_POSTGRES_URL"


def _postgres_url() -> str:
    """The PostgreSQL server to test the ledger against; in CI (CI=true) there must be one."""
    import os

    url = os.environ.get(POSTGRES_ENV)
    if url:
        return url
    if os.environ.get("CI") == "true":
        pytest.fail(f"{POSTGRES_ENV} is not set; in CI the ledger must be tested against PostgreSQL (.ci/run sets it)")
    pytest.skip(f"set {POSTGRES_ENV}=postgresql://USER:PASSWORD@HOST/DB to test the ledger against PostgreSQL")


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty ledger database: a fresh SQLite file, or the test PostgreSQL database emptied."""
    if request.param == "sqlite":
        return str(tmp_path / "ledger.sqlite")
    url = _postgres_url()
    import sqlalchemy as sa

    from advisor.ledger.schema import metadata
    from advisor.ledger.store import url_of

    engine = sa.create_engine(url_of(url))
    with engine.begin() as conn:
        metadata.drop_all(conn)
        conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()
    return url
