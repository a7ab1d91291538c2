"""The library service's start page."""
