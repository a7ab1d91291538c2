"""The production topology on one machine: `bibid cluster` (see bibid.cluster.command)."""
