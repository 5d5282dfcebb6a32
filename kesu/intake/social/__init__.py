"""Social media and public opinion: signed webhooks, field mappings, the mentions queue."""
