"""Filter of the minio role: policies compared regardless of the order MinIO lists them in.

MinIO answers with a policy's actions in no fixed order (they are kept in a set), so the
role compares `policy | minio_canonical_policy` on both sides to stay idempotent.
"""

from typing import Any


def _as_list(value: Any) -> list:
    return sorted(value) if isinstance(value, list) else [value]


def minio_canonical_policy(policy: Any) -> list:
    """Sorted statements, each with sorted actions, resources and principals."""
    if not isinstance(policy, dict):
        return []
    statements = []
    for statement in policy.get("Statement") or []:
        principal = statement.get("Principal")
        if isinstance(principal, dict):
            principal = {key: _as_list(value) for key, value in sorted(principal.items())}
        statements.append(
            {
                "Effect": statement.get("Effect"),
                "Action": _as_list(statement.get("Action", [])),
                "Resource": _as_list(statement.get("Resource", [])),
                "Principal": principal,
            }
        )
    return sorted(statements, key=repr)


class FilterModule:
    def filters(self) -> dict:
        return {"minio_canonical_policy": minio_canonical_policy}
