"""The library API (v1): what a library system does to login accounts, over OAuth2."""
