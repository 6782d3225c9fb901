"""Errors the API answers with a 4xx JSON body."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error answered as ``{"error": message, **details}`` with ``status``."""

    status = 400

    def __init__(self, message: str, status: int | None = None, **details: Any) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status
        self.details = details

    def body(self) -> dict[str, Any]:
        return {"error": str(self), **self.details}


class BadRequest(ApiError):
    status = 400
