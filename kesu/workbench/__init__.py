"""The workbench's own tables: saved views, and the indexes behind its sortable columns."""
