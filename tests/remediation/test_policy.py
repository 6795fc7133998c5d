"""Outcome classification, output tails and the abandoned-run rule (pure)."""

from __future__ import annotations

from datetime import timedelta

from bot.core.advisory import Action
from bot.remediation.policy import (
    classify_failure,
    classify_verification,
    output_tail,
)
from bot.storage.records import RemediationRun, RunStatus
from tests.remediation.helpers import NOW, certificate

STALE = timedelta(minutes=5)


def test_newer_certificate_is_renewed_with_both_dates() -> None:
    """A later not_after after the fix is RENEWED and the summary names old and new expiry."""
    old, new = certificate(20), certificate(400, serial="2B")
    outcome = classify_verification("fmc-east", Action.VDB_UPDATE, old, new, upgrade_to="7.6.1")
    assert outcome.status is RunStatus.RENEWED
    assert (outcome.old_not_after, outcome.new_not_after) == (old.not_after, new.not_after)
    assert "2025-07-21 12:00 UTC" in outcome.summary
    assert "2026-08-05 12:00 UTC" in outcome.summary
    assert outcome.next_steps == ()


def test_certificate_where_there_was_none_is_renewed() -> None:
    """A certificate read back where the precheck found none counts as renewed."""
    outcome = classify_verification(
        "fmc-east", Action.VDB_UPDATE, None, certificate(400), upgrade_to=None
    )
    assert outcome.status is RunStatus.RENEWED
    assert "where there was none" in outcome.summary


def test_unchanged_certificate_is_not_renewed_with_next_steps() -> None:
    """The same certificate after a VDB install is NOT_RENEWED: upgrade and TAC are next."""
    cert = certificate(0.3)
    outcome = classify_verification(
        "fmc-east", Action.VDB_UPDATE, cert, cert, upgrade_to="7.6.1", vdb_build=406
    )
    assert outcome.status is RunStatus.NOT_RENEWED
    assert "VDB build 406 is installed" in outcome.summary
    assert any("upgrade to 7.6.1" in step for step in outcome.next_steps)
    assert any("Cisco TAC" in step for step in outcome.next_steps)
    assert any("cloud connectivity" in step for step in outcome.next_steps)


def test_not_renewed_without_a_fixed_release_names_tac_only() -> None:
    """With no fixed release known, the only next step past the checks is Cisco TAC."""
    outcome = classify_verification(
        "fmc-east", Action.RESTART, None, None, upgrade_to=None, vdb_build=406
    )
    assert outcome.status is RunStatus.NOT_RENEWED
    assert "still no valid certificate" in outcome.summary
    assert outcome.next_steps == ("contact Cisco TAC (cite CSCwo63951 / FN74272)",)


def test_restart_not_renewed_suggests_the_vdb_update_first() -> None:
    """After a restart that did not renew, an FMC below VDB 406 is pointed at vdb-update."""
    cert = certificate(5)
    outcome = classify_verification(
        "fmc-east", Action.RESTART, cert, cert, upgrade_to="7.7.10", vdb_build=400
    )
    assert outcome.next_steps[0].startswith("run the vdb-update action")
    assert "upgrade to 7.7.10" in outcome.next_steps


def test_failure_names_the_step_and_keeps_the_output_tail() -> None:
    """FAILED says at which step and why, and keeps only the tail of a long output."""
    output = "\n".join(f"line {i}" for i in range(2000)) + "\nERROR: package rejected"
    outcome = classify_failure(
        "fmc-east",
        Action.VDB_UPDATE,
        "install-vdb",
        "exit status 1",
        output,
        old=certificate(20),
    )
    assert outcome.status is RunStatus.FAILED
    assert outcome.failed_step == "install-vdb"
    assert "failed at step install-vdb: exit status 1" in outcome.summary
    assert outcome.step_output.endswith("ERROR: package rejected")
    assert outcome.step_output.startswith("[...]\nline ")
    assert len(outcome.step_output) <= 4096 + 6


def test_output_tail_leaves_short_text_alone() -> None:
    """Text within the limit is returned unchanged."""
    assert output_tail("a\nb", limit=10) == "a\nb"


def _run(
    owner: str, *, heartbeat_age: timedelta, status: RunStatus = RunStatus.RUNNING
) -> RemediationRun:
    return RemediationRun(
        id=1,
        fmc="fmc-east",
        action="vdb-update",
        status=status,
        requested_by="cli:alice",
        approved_by=None,
        owner=owner,
        started_at=NOW - heartbeat_age - timedelta(minutes=1),
        heartbeat_at=NOW - heartbeat_age,
        finished_at=None,
        failed_step=None,
        summary=None,
        old_not_after=None,
        new_not_after=None,
        plan={},
    )
