"""Tasks: sub-tasks for other departments and escalation tasks, each with a deadline."""
