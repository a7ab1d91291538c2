"""The Inlogaccount menu: what the library does to its customers' login accounts, through
the login service's library API; the push of rights, and the changes feed."""
