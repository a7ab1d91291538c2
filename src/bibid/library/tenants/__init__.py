"""Library organisations: the tenants of the library service."""
