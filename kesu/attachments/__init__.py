"""Files attached to complaints: photos, PDFs, Office documents, call recordings, clips."""
