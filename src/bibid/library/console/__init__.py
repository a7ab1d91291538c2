"""The staff console: search, the customer page with the Inlogaccount menu, the desk."""
