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


class ServiceBusy(KesuError):
    """The database stayed busy (the write lock) longer than the bounded wait: retry soon."""

    status_code = 503
    code = "service_busy"

    def __init__(self, message: str | None = None, *, retry_after: int = 5) -> None:
        if message is None:
            from kesu.web.i18n import gettext as _

            message = _("服务繁忙，请稍后再试")
        super().__init__(message)
        self.retry_after = retry_after
        self.headers = {"Retry-After": str(retry_after)}
