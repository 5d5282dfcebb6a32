"""The 3-level category tree, severity and priority."""
