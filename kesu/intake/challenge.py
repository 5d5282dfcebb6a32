"""An optional challenge (a captcha) on the public complaint form.

kesu ships none: ``NoChallenge`` shows nothing and lets every submission through, and the rate
limits (``kesu.web.ratelimit``) are the default defence. A deployment that wants a captcha
writes a class with the two methods of ``Challenge`` and names it in the settings::

    KESU_CHALLENGE=mycompany.captcha:TencentCaptcha

The class is built once per app with the ``Settings`` (``Class(settings)``) and must be
thread-safe. ``widget_html`` is put inside the form as it is (it is trusted HTML: escape
anything you put in it); ``verify`` gets the submitted form (e.g. the provider's response
token field) and the client address, and answers whether the visitor passed. It runs before
the complaint is registered; a ``False`` shows the form again with an error. Verifying
usually means an HTTP call to the provider: keep its timeout short. The page's
Content-Security-Policy allows only this site's scripts, so serve the provider's script from
``kesu/web/static`` or widen the policy for its origin.

A minimal example::

    class SumChallenge:
        def __init__(self, settings): ...
        def widget_html(self, request):
            return '<label>3 + 4 = <input name="sum" required></label>'
        def verify(self, request, form, client_address):
            return form.get("sum") == "7"
"""

from __future__ import annotations

import importlib
import threading
from typing import Protocol

from fastapi import Request
from markupsafe import Markup
from starlette.datastructures import FormData

from kesu.config import Settings


class Challenge(Protocol):
    def widget_html(self, request: Request) -> str:
        """HTML placed inside the public form (empty: nothing)."""
        ...

    def verify(self, request: Request, form: FormData, client_address: str) -> bool:
        """Whether the submitted form passed the challenge."""
        ...


class NoChallenge:
    """The default: no widget, every submission passes."""

    def __init__(self, settings: Settings | None = None) -> None:
        pass

    def widget_html(self, request: Request) -> str:
        return ""

    def verify(self, request: Request, form: FormData, client_address: str) -> bool:
        return True


class ChallengeConfigError(ValueError):
    """``KESU_CHALLENGE`` does not name a usable class."""


def load(spec: str, settings: Settings) -> Challenge:
    """The challenge named by ``module:Class`` (empty: ``NoChallenge``)."""
    if not spec.strip():
        return NoChallenge(settings)
    module_name, _, class_name = spec.strip().partition(":")
    if not module_name or not class_name:
        raise ChallengeConfigError(f"KESU_CHALLENGE={spec!r}: expected module:Class")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise ChallengeConfigError(f"KESU_CHALLENGE={spec!r}: {exc}") from exc
    challenge: Challenge = cls(settings)
    return challenge


_lock = threading.Lock()


def challenge_of(request: Request) -> Challenge:
    """The app's challenge, built on first use from its settings."""
    state = request.app.state
    found: Challenge | None = getattr(state, "challenge", None)
    if found is None:
        with _lock:
            found = getattr(state, "challenge", None)
            if found is None:
                found = load(state.settings.challenge, state.settings)
                state.challenge = found
    return found


def widget(request: Request) -> Markup:
    # Trusted HTML from the configured provider (see the module docstring).
    return Markup(challenge_of(request).widget_html(request))
