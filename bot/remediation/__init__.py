"""Remediation: plans (pure data), the runner that executes them over SSH, the service."""
