"""Schemathesis fuzzes /api/v1 from its own OpenAPI document, logged in as each role: no server error,
and every answer matches the schema the document declares (generated from robocall/web/api_models.py).

The app runs on a real port in a thread of its own (schemathesis speaks HTTP through requests); the
number of examples per operation is bounded so the whole run stays within about a minute.
"""

from __future__ import annotations

import hypothesis
import pytest
import requests
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance
from webhelp import logged_in_session

pytestmark = pytest.mark.db
EXAMPLES = 40  # per operation and role: 11 operations x 3 roles, about 20 s on an idle 2-core machine


@pytest.mark.parametrize("role", ["viewer", "cdc_staff", "admin"])
def test_the_api_answers_every_generated_request_within_its_schema(live_url: str, role: str) -> None:
    document = requests.get(f"{live_url}/api/v1/openapi.json").json()
    schema = schemathesis.openapi.from_dict(document)
    schema.config.base_url = live_url  # type: ignore[attr-defined]
    session, csrf = logged_in_session(live_url, role)
    cookie = {"robocall_session": session.cookies["robocall_session"]}
    failures: list[str] = []
    seen: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @hypothesis.settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                             suppress_health_check=list(hypothesis.HealthCheck),
                             phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate])
        @hypothesis.given(case=operation.as_strategy())
        def check(case: schemathesis.Case) -> None:
            # The cookie given outright: the document declares it as the security scheme, and schemathesis
            # would otherwise send one of its own making.
            response = case.call(base_url=live_url, session=session, headers={"X-CSRF-Token": csrf}, cookies=cookie)
            seen.append(f"{case.method} {case.formatted_path} {response.status_code}")
            try:
                case.validate_response(response, checks=[not_a_server_error, response_schema_conformance,
                                                         content_type_conformance])
            except Exception as exc:  # collected, so every operation is tried before failing
                failures.append(f"{case.method} {case.formatted_path} {response.status_code}: {str(exc)[:400]}")

        check()
    assert failures == []
    # Logged in indeed: the role's own routes answered, not only 401s.
    assert any(entry.endswith(" 200") for entry in seen if "openapi" not in entry and "session" not in entry)
