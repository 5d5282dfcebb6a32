"""The loopback HTTP receiver of the notification tests, for the worker tests too."""

from tests.notify.conftest import http_client, receiver

__all__ = ["http_client", "receiver"]
