"""The reading service's start page."""
