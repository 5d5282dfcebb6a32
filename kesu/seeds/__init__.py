"""Default configuration data (stages, categories, teams, form fields), editable by admins."""
