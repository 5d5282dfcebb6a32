"""Intake: every channel complaints arrive by (web form, agent entry, API, email, webhooks)."""
