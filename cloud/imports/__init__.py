"""Spreadsheet import and export of the property register (CSV and .xlsx)."""
