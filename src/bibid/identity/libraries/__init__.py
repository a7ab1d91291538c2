"""Libraries and their links: which library customer a login account belongs to, and the
customer data and rights each library pushes for it (authorizations)."""
