"""Mijn Menu: the library's patron portal, where a signed-in member sees their membership."""
