"""Durable record: probe results, remediation runs and steps, the append-only audit log."""
