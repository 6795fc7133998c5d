"""The pure domain core: certificates, CSCwo63951 advisory rules, expiry policy.

Nothing here does I/O or reads a clock; callers pass ``now``.
"""
