"""Query parameters: each at most once (``...&date_from=garbage`` is not silently dropped)."""

from __future__ import annotations

from werkzeug.datastructures import MultiDict

from stackyard.web.errors import BadRequest


def single_values(args: MultiDict) -> dict[str, str]:
    """The parameters as a plain dict; 400 naming any parameter given more than once."""
    repeated = sorted(key for key, values in args.lists() if len(values) > 1)
    if repeated:
        raise BadRequest(
            f"parameter {repeated[0]!r} is given more than once",
            parameter=repeated[0],
            repeated=repeated,
        )
    return args.to_dict()
