"""Personal data (PIPL): who sees contact details, the audit of reads and exports, erasure.

- ``masking``: pure functions — ``138****8000``, ``w***@example.com``, masking inside texts,
  scrubbing erased values.
- ``service``: ``sees_contact`` (the ``contact.view`` permission), the complaint's contact as
  it gave it (``contact_out``), ``audit_contact_read`` (one row per user, record and day) and
  ``record_export`` (call it from every export).
- ``erasure``: ``anonymize_customer`` (on request) and ``anonymize_expired`` (retention,
  ``KESU_RETENTION_YEARS``; run hourly by the worker and by ``kesu privacy anonymize-expired``).

Customer records (view, edit, merge, the anonymise button) are ``kesu.customers``.
"""
