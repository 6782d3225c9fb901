"""Errors the API answers with a JSON body (the shared ones of ``stackyard.web.errors``)."""

from stackyard.web.errors import ApiError, BadRequest, PayloadTooLarge, Unauthorized, Unavailable

__all__ = ["ApiError", "BadRequest", "PayloadTooLarge", "Unauthorized", "Unavailable"]
