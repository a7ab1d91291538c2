"""Self-service lid worden: a new member signs up on the library's site."""
