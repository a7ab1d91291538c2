"""Guessing protection shared by every sign-in: counters per lane, counted atomically."""
