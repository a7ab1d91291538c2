"""The library service's REST API: everything the console does, for automation."""
