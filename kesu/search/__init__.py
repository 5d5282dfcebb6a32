"""Finding complaints and callers by their contact details: the workbench's ``q`` by phone,
email, name, order number and complaint number through indexes, and the entry form's look-up
of a caller by phone (issue 9, phone and desk)."""
