"""schemathesis over every API operation: no 5xx and every answer matches the OpenAPI document.

Examples are bounded (``EXAMPLES`` per operation, no shrinking, no example database) so the
walk takes about a minute per database. The key is an owner's, so every operation gets past
authentication; merchant A's objects exist, so generated ids sometimes name real rows.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Tenant
from tests.test_tenancy_walk import seed_alpha

EXAMPLES = 4
# Operations the fuzzer cannot drive over HTTP without a provider's signature: they answer 4xx
# to anything it makes, which is all there is to learn; still included.
CHECKS = [not_a_server_error, response_schema_conformance]


def fuzz_operation(operation: Any, headers: dict[str, str], mode: GenerationMode) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()


def test_every_operation_survives_the_fuzzer(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    seed_alpha(client, tenant, sessions)
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if not operation.path.startswith("/api/v1"):
            continue
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                fuzz_operation(operation, tenant.headers, mode)
            except Unsatisfiable:
                pass  # nothing in this operation can be made invalid (no parameters)
            except Exception as exc:  # every operation's failure is collected
                where = f"{operation.method.upper()} {operation.path} ({mode.value})"
                failures.append(f"{where}: {str(exc)[:600]}")
    assert operations >= 120
    assert not failures, "\n\n".join(failures)
