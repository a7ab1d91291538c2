"""The patron's self-service journeys: forgot password, forgot username, activation, and the
"Mijn inlogaccount" pages (change password, e-mail address, username; delete the account)."""
