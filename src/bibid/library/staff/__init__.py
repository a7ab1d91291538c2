"""Library staff: who works in the console, in which library and role; what they did."""
