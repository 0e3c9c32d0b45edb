"""Datasets as users handle them: import from any format, export to any format, look inside."""
