"""Tests of the CSCwo63951 advisory rules, release by release."""

from __future__ import annotations

import pytest

from bot.core.advisory import (
    Action,
    advisory_for,
    assess_release,
    kind_note,
    recommend_action,
    vdb_fixes_defect,
)
from bot.core.devices import DeviceKind
from bot.core.expiry import Status


@pytest.mark.parametrize(
    ("version", "affected", "upgrade_to"),
    [
        ("7.4.2", False, None),
        ("7.6.0", True, "7.6.1"),
        ("7.6.1", False, None),
        ("7.7.0", True, "7.7.10"),
        ("7.7.10", False, None),
        ("6.4.0", False, None),
        (None, None, None),
        ("", None, None),
    ],
)
def test_every_release_row(
    version: str | None, affected: bool | None, upgrade_to: str | None
) -> None:
    """Only 7.6.0 and 7.7.0 are affected; each names its train's first fixed release."""
    release = assess_release(version)
    assert release.affected is affected
    assert release.upgrade_to == upgrade_to


@pytest.mark.parametrize(
    ("build", "fixed"), [(None, False), (338, False), (405, False), (406, True), (413, True)]
)
def test_vdb_406_or_later_fixes(build: int | None, fixed: bool) -> None:
    """VDB build 406 is the first that carries the fix."""
    assert vdb_fixes_defect(build) is fixed


@pytest.mark.parametrize(
    ("status", "affected", "vdb", "action"),
    [
        # Affected without the fixing VDB: update the VDB whatever the expiry says.
        (Status.OK, True, 400, Action.VDB_UPDATE),
        (Status.EXPIRED, True, 400, Action.VDB_UPDATE),
        (Status.UNKNOWN, True, None, Action.VDB_UPDATE),
        # Affected with VDB >= 406: fine when healthy, upgrade when still due.
        (Status.OK, True, 406, Action.NONE),
        (Status.WARNING, True, 406, Action.UPGRADE),
        (Status.CRITICAL, True, 413, Action.UPGRADE),
        # Not affected: nothing unless renewal visibly failed.
        (Status.OK, False, 300, Action.NONE),
        (Status.WARNING, False, 300, Action.NONE),
        (Status.CRITICAL, False, 300, Action.INVESTIGATE),
        (Status.EXPIRED, False, 300, Action.INVESTIGATE),
        # Release unknown.
        (Status.UNKNOWN, None, None, Action.NONE),
        (Status.EXPIRED, None, None, Action.INVESTIGATE),
    ],
)
def test_recommend_action(
    status: Status, affected: bool | None, vdb: int | None, action: Action
) -> None:
    """The recommended fix follows the release, the VDB build and the status."""
    assert recommend_action(status, affected, vdb) is action


def test_both_kinds_share_releases_fixes_and_vdb_build() -> None:
    """FN74272 (FMC) and FN74284 (FTD) name the same affected, fixed releases and VDB 406."""
    fmc, ftd = advisory_for(DeviceKind.FMC), advisory_for(DeviceKind.FTD)
    assert (fmc.field_notice, ftd.field_notice) == ("FN74272", "FN74284")
    assert fmc.affected == ftd.affected == frozenset({"7.6.0", "7.7.0"})
    assert fmc.first_fixed == ftd.first_fixed == ("7.6.1", "7.7.10")
    assert fmc.fixed_vdb_build == ftd.fixed_vdb_build == 406


def test_ftd_differences_are_noted_and_unknowns_marked_unverified() -> None:
    """Only the FTD has a note (VDB via FDM, not install_update.pl) and unverified facts."""
    ftd = advisory_for(DeviceKind.FTD)
    assert kind_note(DeviceKind.FMC) is None
    note = kind_note(DeviceKind.FTD)
    assert note is not None
    for words in ("FDM", "install_update.pl", "Device > Updates"):
        assert words in note
    assert "FDM" in ftd.vdb_install
    assert any("Snort" in fact for fact in ftd.unverified)
    assert advisory_for(DeviceKind.FMC).unverified == ()
