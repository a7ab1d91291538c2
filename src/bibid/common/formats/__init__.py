"""Our own date and number formats per language, on top of Django's (FORMAT_MODULE_PATH).

Django looks here first and falls back to its own locale formats for every name not set
here, so each file only says where we differ.
"""
