"""Bulk imports from the systems Bibid replaces: batches, a checkpoint, a report (shared)."""
