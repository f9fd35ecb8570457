"""Shared fixtures: one Advisor per test session (durable-rules hosts are costly and never freed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from advisor.api import Advisor

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="rewrite the golden briefs from the current output")


@pytest.fixture(scope="session")
def advisor() -> Advisor:
    return Advisor.load(ROOT / "rules", ROOT / "templates")


@pytest.fixture(scope="session")
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))
