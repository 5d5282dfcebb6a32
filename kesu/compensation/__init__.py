"""Compensation standards (赔付标准): the matrix, recommendations, approvals and the ledger."""
