"""Monthly and quarterly analysis reports (Excel, PDF), on demand and on a schedule."""
