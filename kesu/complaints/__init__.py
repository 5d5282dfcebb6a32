"""The complaint, its timeline and the 8-stage lifecycle."""
