"""The page fixtures (browser, signed_in, make_complaint) of tests/web, here too."""

from tests.web.conftest import (  # noqa: F401
    browser,
    fresh_configuration_cache,
    make_complaint,
    signed_in,
)
