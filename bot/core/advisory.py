"""The rules of Cisco defect CSCwo63951 (field notices FN74272 for the FMC, FN74284 for FTD).

Affected: 7.6.0 and 7.7.0. First fixed: 7.6.1 and 7.7.10. Installing VDB build 406 or
later also renews the certificate (with cloud connectivity on). Both notices give the
same releases, VDB build, check command and certificate path, so one table serves both
kinds; :func:`advisory_for` adds what differs for an FTD managed by FDM, and says which
of its facts are not verified rather than guess them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from bot.core.devices import DeviceKind
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


@dataclass(frozen=True, slots=True)
class KindAdvisory:
    """What the advisory says for one kind of device, and how its VDB gets installed."""

    kind: DeviceKind
    field_notice: str
    affected: frozenset[str]
    first_fixed: tuple[str, ...]
    fixed_vdb_build: int
    vdb_install: str  # how the VDB is installed on this kind, in words
    note: str | None  # where this kind's path differs, for every output to show
    unverified: tuple[str, ...]  # facts not confirmed for this kind: said, never guessed


# FDM installs database updates (VDB, GeoDB, rules) itself: "Updating System Databases
# and Feeds" in the FDM configuration guide, e.g. for 7.6:
# https://www.cisco.com/c/en/us/td/docs/security/firepower/760/fdm/fptd-fdm-config-guide-760/fptd-fdm-mgmt.html
FTD_NOTE = (
    "FTD (FN74284): install the VDB through FDM (Device > Updates), not install_update.pl; "
    "fmccert shows these steps and does not run them"
)
"""One line every output shows for an FTD, where its path differs from an FMC's."""

_FTD_UNVERIFIED = (
    "whether installing a VDB through FDM restarts Snort on the FTD (it does on devices an "
    "FMC manages): plan for an inspection interruption",
    "whether the renewal on an FTD needs FDM's cloud services (the FMC needs cloud "
    "connectivity and telemetry)",
    "whether `system lockdown` prints its own message for `expert` (fmccert reports any "
    "answer that stays at `>`)",
)

_ADVISORIES: dict[DeviceKind, KindAdvisory] = {
    DeviceKind.FMC: KindAdvisory(
        kind=DeviceKind.FMC,
        field_notice="FN74272",
        affected=AFFECTED_RELEASES,
        first_fixed=tuple(FIRST_FIXED.values()),
        fixed_vdb_build=FIXED_VDB_BUILD,
        vdb_install="expert mode: install_update.pl with the VDB package (fmccert can run it)",
        note=None,
        unverified=(),
    ),
    DeviceKind.FTD: KindAdvisory(
        kind=DeviceKind.FTD,
        field_notice="FN74284",
        affected=AFFECTED_RELEASES,
        first_fixed=tuple(FIRST_FIXED.values()),
        fixed_vdb_build=FIXED_VDB_BUILD,
        vdb_install="FDM: Device > Updates, Vulnerability Database (from the cloud or an upload)",
        note=FTD_NOTE,
        unverified=_FTD_UNVERIFIED,
    ),
}


def advisory_for(kind: DeviceKind) -> KindAdvisory:
    """The advisory as it applies to ``kind`` (same releases and VDB build for both)."""
    return _ADVISORIES[kind]


def kind_note(kind: DeviceKind) -> str | None:
    """The short note outputs show for ``kind`` where its path differs (None for an FMC)."""
    return _ADVISORIES[kind].note
