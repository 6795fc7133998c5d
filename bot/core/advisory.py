"""The rules of Cisco defect CSCwo63951 (field notice FN74272).

Affected: FMC 7.6.0 and 7.7.0. First fixed: 7.6.1 and 7.7.10. Installing VDB build 406
or later also renews the certificate (with cloud connectivity on).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from bot.core.expiry import Status

AFFECTED_RELEASES: frozenset[str] = frozenset({"7.6.0", "7.7.0"})
FIRST_FIXED: dict[str, str] = {"7.6": "7.6.1", "7.7": "7.7.10"}
FIXED_VDB_BUILD = 406


class Action(enum.StrEnum):
    """The recommended fix; the JSON contract's ``action``."""

    NONE = "none"
    VDB_UPDATE = "vdb-update"
    UPGRADE = "upgrade"
    RESTART = "restart"
    # Not this defect: renewal should have been automatic, so a human has to look.
    INVESTIGATE = "investigate"


@dataclass(frozen=True, slots=True)
class ReleaseAssessment:
    """Whether a release is affected and where its train is fixed."""

    affected: bool | None  # None when the version is unknown
    upgrade_to: str | None  # first fixed release for the train, only when affected


def _train(version: str) -> str:
    return ".".join(version.split(".")[:2])


def assess_release(version: str | None) -> ReleaseAssessment:
    """Is this FMC release affected by CSCwo63951, and which release fixes it?"""
    if not version:
        return ReleaseAssessment(affected=None, upgrade_to=None)
    if version in AFFECTED_RELEASES:
        return ReleaseAssessment(affected=True, upgrade_to=FIRST_FIXED[_train(version)])
    return ReleaseAssessment(affected=False, upgrade_to=None)


def vdb_fixes_defect(vdb_build: int | None) -> bool:
    """True when the installed VDB already carries the fix (build 406 or later)."""
    return vdb_build is not None and vdb_build >= FIXED_VDB_BUILD


def recommend_action(status: Status, affected: bool | None, vdb_build: int | None) -> Action:
    """The fix to recommend for one FMC.

    - affected release without the fixing VDB: ``vdb-update`` (the documented fix),
      whatever the expiry says, because the next renewal will fail;
    - affected release that has the fixing VDB but whose certificate is still due:
      the VDB did not renew it, so ``upgrade`` to the fixed release;
    - unaffected or unknown release with a certificate at critical or worse: renewal
      should have been automatic, so ``investigate``;
    - otherwise ``none``.
    """
    due = status in (Status.CRITICAL, Status.EXPIRED)
    if affected is True:
        if not vdb_fixes_defect(vdb_build):
            return Action.VDB_UPDATE
        still_due = due or status is Status.WARNING
        return Action.UPGRADE if still_due else Action.NONE
    if due:
        return Action.INVESTIGATE
    return Action.NONE
