"""Prepares the peer's database: migrate, a staff superuser, one queue, a DRF token.

Run with the peer's own venv from this directory (``python prepare.py``); prints one JSON line
with the token and the queue id, which the wrk script sends with every ticket.
"""

from __future__ import annotations

import json
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peerbench.settings")
django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from helpdesk.models import EmailTemplate, Queue  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402


def main() -> None:
    call_command("migrate", interactive=False, verbosity=0)
    users = get_user_model()
    user = users.objects.filter(username="bench").first()
    if user is None:
        user = users.objects.create_superuser("bench", "bench@example.com", "bench-password")
    queue, _ = Queue.objects.get_or_create(
        slug="bench", defaults={"title": "Bench", "email_address": "bench@example.com"}
    )
    token, _ = Token.objects.get_or_create(user=user)
    templates = EmailTemplate.objects.count()
    print(json.dumps({"token": token.key, "queue": queue.id, "email_templates": templates}))


if __name__ == "__main__":
    main()
