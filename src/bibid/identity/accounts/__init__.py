"""Login accounts: the credentials the national login owns, and their lifecycle."""
