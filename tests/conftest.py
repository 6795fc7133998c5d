"""Shared fixtures. Lab and sshd fixtures live in tests/support and are imported here."""

from tests.support.lab_fixtures import lab, lab_config, lab_factory  # noqa: F401
from tests.support.sshd import sshd_fmc, sshd_fmc_factory  # noqa: F401
