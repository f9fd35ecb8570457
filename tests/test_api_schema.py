"""A property-based test of the JSON API against its own OpenAPI document (schemathesis, in process:
no socket, nothing leaves the machine): whatever the generated request, the answer is no 5xx, has a
status, content type and body the document declares, and a 4xx says what was wrong in one line."""

from __future__ import annotations

import datetime as dt
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from advisor.ledger.reasons import Reasons
from advisor.ledger.store import Ledger
from advisor.serve.accounts import Served
from advisor.serve.app import create_app

from conftest import ROOT

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import schemathesis
    from schemathesis.specs.openapi.checks import positive_data_acceptance


def _app(folder, auth: bool):
    from advisor.api import Advisor

    served = Served.load([ROOT / "profiles" / "gz-tax-bureau.yaml", ROOT / "profiles" / "sz-metro-group.yaml"])
    ledger = Ledger.open(str(folder / "ledger.sqlite"))
    headers = {"Authorization": f"Bearer {ledger.add_token('ann')}"} if auth else {}
    reasons = Reasons.load(ROOT / "templates")
    app = create_app(
        Advisor.load(ROOT / "rules", ROOT / "templates"), served, ledger, reasons, auth=auth, today=dt.date(2026, 12, 1)
    )
    return app, headers


@pytest.fixture(scope="module", params=[False, True], ids=["loopback", "tokens"])
def api_schema(request, tmp_path_factory):
    """The API as served on 127.0.0.1 (no tokens), and bound elsewhere (a valid token sent)."""
    app, headers = _app(tmp_path_factory.mktemp("api"), request.param)
    return schemathesis.openapi.from_asgi("/openapi.json", app, headers=headers)


# Through hypothesis directly: schemathesis' own pytest plugin fails under pytest 9.
@given(data=st.data())
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_answers_as_its_openapi_document_says(api_schema, data):
    case = data.draw(api_schema.as_strategy())
    # Not "schema-valid data is accepted": a valid-looking body may still name an account, rule or
    # reason the server does not know, or refuse without a reason; those are 422s with one line.
    response = case.call_and_validate(excluded_checks=[positive_data_acceptance])
    if 400 <= response.status_code < 500:
        detail = response.json()["detail"]
        assert isinstance(detail, str) and detail and "\n" not in detail


def test_api_document_lists_every_operation(api_schema):
    operations = {(o.ok().method.upper(), o.ok().path) for o in api_schema.get_all_operations()}
    assert operations == {
        ("GET", "/api/accounts"), ("GET", "/api/accounts/{account_id}/brief"), ("GET", "/api/reasons"),
        ("POST", "/api/reactions"), ("GET", "/api/report"),
    }  # fmt: skip
