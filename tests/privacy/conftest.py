"""The page fixtures (a browser, signing in, complaints) for the privacy tests."""

from tests.web.conftest import (  # noqa: F401 - fixtures
    browser,
    fresh_configuration_cache,
    make_complaint,
    signed_in,
)
