"""The app factory, auth/session/CSRF plumbing, layout templates and static files."""
