"""The page fixtures of tests/web (a browser-like client, signing in, complaints)."""

from tests.web.conftest import (  # noqa: F401
    browser,
    fresh_configuration_cache,
    make_complaint,
    signed_in,
)
