"""Customer records for staff: the page ``/customers/{id}`` and ``/api/v1/customers``.

Intake only links or creates customers (``complaints.registration``); editing and merging
are staff actions with ``customer.edit``, audited with before and after. The ``Customer``
table stays in ``complaints.models``.
"""
