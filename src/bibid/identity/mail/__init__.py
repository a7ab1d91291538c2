"""E-mail to patrons: a durable outbox that the task worker drains."""
