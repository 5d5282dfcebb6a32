"""Domain errors that carry their HTTP status. Services raise them; the web layer renders them."""

from __future__ import annotations


class KesuError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code

    def to_dict(self) -> dict[str, str]:
        body = {"detail": self.message, "code": self.code}
        if self.field:
            body["field"] = self.field
        return body


class InvalidInput(KesuError):
    status_code = 422
    code = "invalid"


class NotAuthenticated(KesuError):
    status_code = 401
    code = "not_authenticated"


class Forbidden(KesuError):
    status_code = 403
    code = "forbidden"


class NotFound(KesuError):
    status_code = 404
    code = "not_found"


class Conflict(KesuError):
    status_code = 409
    code = "conflict"


class StaleVersion(Conflict):
    code = "stale_version"
