"""Exports of the workbench list (Excel, CSV), in the background when large."""
