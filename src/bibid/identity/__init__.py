"""The identity service: the national login (accounts, sign-in, self-service, library API)."""
