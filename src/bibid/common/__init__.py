"""Code the three services share: settings, health checks, base templates, small helpers."""
