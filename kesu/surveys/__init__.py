"""Satisfaction follow-up: the survey after resolution, its answers and what they do."""
