"""Finding complaints and callers: the workbench's ``q`` (phone, email, name, order and
complaint numbers through indexes, issue 9; every other word through the full-text index,
issue 13), the ranked search, and the entry form's look-up of a caller by phone."""
