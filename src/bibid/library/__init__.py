"""The library service: the library system for many library organisations (Wise's part)."""
