"""The scenario catalog: coverage, naming, and expectations that agree with bot.core."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.core.advisory import assess_release, recommend_action
from bot.core.error_kinds import ErrorKind
from bot.core.expiry import Status, Thresholds, classify_expiry
from bot.errors import LabError
from bot.lab.scenarios import (
    CATALOG,
    KINDS,
    REMEDIATION_OUTCOMES,
    get_scenario,
    pick_scenarios,
    scenario_table,
)

NOW = datetime(2025, 6, 18, 12, 0, tzinfo=UTC)
# Errors that stop a probe before it can have read the release.
EARLY_ERRORS = {"auth", "host_key", "unreachable", "timeout", "protocol"}


def test_catalog_covers_every_required_behaviour() -> None:
    """The catalog covers every release, status, error kind and login variant in 23 hosts."""
    scenarios = list(CATALOG.values())
    # `fmccert lab --count 23` (README) must play every scenario once.
    assert len(scenarios) <= 23
    assert {s.version for s in scenarios} >= {"7.4.2", "7.6.0", "7.6.1", "7.7.0", "7.7.10"}
    assert {s.expect_status for s in scenarios} == {
        "ok",
        "warning",
        "critical",
        "expired",
        "unknown",
    }
    assert {s.expect_action for s in scenarios} == {"none", "vdb-update", "upgrade", "investigate"}
    kinds = {s.expect_error for s in scenarios} - {None}
    assert kinds == set(ErrorKind) - {"config"}
    assert any(not s.clish for s in scenarios)
    assert any(s.lecture for s in scenarios)
    assert any(s.ansi and s.hostname != "firepower" and s.cwd != "~" for s in scenarios)
    assert any(not s.ims_conf for s in scenarios)
    assert any(s.command_delay > 0 and s.expect_error is None for s in scenarios)
    assert any(s.vdb_build >= 406 and s.expect_action == "none" for s in scenarios)
    assert any(0 < (s.cert_days_left or 0) < 1 for s in scenarios)  # expires today
    assert any(not s.cloud_connectivity for s in scenarios)
    assert any(s.install_fails for s in scenarios)
    assert any(s.upload_cut for s in scenarios)


def test_names_are_kebab_case_keys_with_one_line_descriptions() -> None:
    """Every scenario is keyed by its kebab-case name and described in one line."""
    for key, scenario in CATALOG.items():
        assert key == scenario.name
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", key)
        assert scenario.description
        assert "\n" not in scenario.description


@pytest.mark.parametrize("scenario", list(CATALOG.values()), ids=list(CATALOG))
def test_expectations_follow_the_core_rules(scenario: object) -> None:
    """Each expected status and action is what bot.core computes for the scenario's facts."""
    from bot.lab.scenarios import Scenario

    assert isinstance(scenario, Scenario)
    release = assess_release(scenario.version)
    if scenario.expect_error is None:
        assert scenario.cert_days_left is not None
        not_after = NOW + timedelta(days=scenario.cert_days_left)
        status = classify_expiry(not_after, Thresholds(), NOW)
        assert scenario.expect_status == status.value
        action = recommend_action(status, release.affected, scenario.vdb_build)
        assert scenario.expect_action == action.value
        return
    assert scenario.expect_status == Status.UNKNOWN.value
    if scenario.expect_error in EARLY_ERRORS:
        # The probe may or may not have read the release: both must give the same action.
        unread = recommend_action(Status.UNKNOWN, None, None).value
        read = recommend_action(Status.UNKNOWN, release.affected, scenario.vdb_build).value
        assert scenario.expect_action == unread == read == "none"
    else:
        read = recommend_action(Status.UNKNOWN, release.affected, scenario.vdb_build).value
        assert scenario.expect_action == read


def test_pick_scenarios_cycles_through_the_given_names() -> None:
    """Asking for more hosts than names repeats the names in order."""
    picked = pick_scenarios(5, ["healthy-742", "cert-missing"])
    assert [s.name for s in picked] == [
        "healthy-742",
        "cert-missing",
        "healthy-742",
        "cert-missing",
        "healthy-742",
    ]


def test_pick_scenarios_defaults_to_the_whole_catalog_in_order() -> None:
    """Without names the whole catalog is used, in catalog order, then repeated."""
    picked = pick_scenarios(len(CATALOG) + 2)
    assert [s.name for s in picked[: len(CATALOG)]] == list(CATALOG)
    assert picked[len(CATALOG)] == picked[0]
    assert pick_scenarios(0) == []


def test_unknown_scenario_name_is_a_lab_error_listing_valid_names() -> None:
    """An unknown name raises LabError naming it and the valid scenarios."""
    with pytest.raises(LabError, match="no-such-box") as caught:
        pick_scenarios(2, ["healthy-742", "no-such-box"])
    assert "healthy-742" in str(caught.value)
    assert "not-listening" in str(caught.value)
    with pytest.raises(LabError):
        get_scenario("")


def test_bad_counts_and_empty_name_lists_are_lab_errors() -> None:
    """A negative count or an empty list of names is refused with LabError."""
    with pytest.raises(LabError, match="count"):
        pick_scenarios(-1)
    with pytest.raises(LabError, match="at least one"):
        pick_scenarios(3, [])


EXPECTED_REMEDIATION = {
    "healthy-742": "refused",
    "affected-760-warning": "renewed",
    "affected-770-critical": "renewed",
    "affected-760-expired": "renewed",
    "expires-today": "not_renewed",
    "fixed-761": "refused",
    "fixed-7710": "refused",
    "vdb-406-still-due": "refused",
    "unaffected-critical": "refused",
    "clish-off": "failed",
    "sudo-lecture": "refused",
    "wrong-password": "n/a",
    "sudo-refused": "n/a",
    "slow-commands": "refused",
    "cert-missing": "renewed",
    "cert-corrupt": "failed",
    "hang-after-login": "n/a",
    "garbage-talker": "n/a",
    "untrusted-host-key": "n/a",
    "not-listening": "n/a",
    "ftd-affected-760": "refused",  # FDM installs its VDB itself: fmccert runs nothing there
    "ftd-fixed-761": "refused",
    "ftd-lockdown": "n/a",
}


def test_catalog_covers_the_ftd_behaviours_of_fn74284() -> None:
    """FTD scenarios: an affected 7.6.0 expiring, the fixed 7.6.1, and expert mode locked down."""
    ftds = [s for s in CATALOG.values() if s.kind == "ftd"]
    assert {s.kind for s in CATALOG.values()} == set(KINDS)
    assert any(
        s.version == "7.6.0" and s.expect_status == "warning" and s.expect_action == "vdb-update"
        for s in ftds
    )
    assert any(s.version == "7.6.1" and s.expect_status == "ok" for s in ftds)
    locked = [s for s in ftds if s.expert_disabled]
    assert [s.expect_error for s in locked] == ["protocol"]
    assert all("Threat Defense" in s.model for s in ftds)
    assert all(not s.expert_disabled for s in CATALOG.values() if s.kind == "fmc")


def test_expected_remediation_of_every_scenario() -> None:
    """Each scenario's expect_remediation is the documented outcome, and every outcome occurs."""
    assert {name: s.expect_remediation for name, s in CATALOG.items()} == EXPECTED_REMEDIATION
    assert set(EXPECTED_REMEDIATION.values()) == set(REMEDIATION_OUTCOMES)


def test_remediation_behaviours_are_in_the_descriptions() -> None:
    """The scenarios with a remediation twist say so in their one-line description."""
    assert not CATALOG["expires-today"].cloud_connectivity
    assert "NOT renew" in CATALOG["expires-today"].description
    assert CATALOG["clish-off"].install_fails
    assert "install_update.pl fails" in CATALOG["clish-off"].description
    assert CATALOG["cert-corrupt"].upload_cut
    assert "cut" in CATALOG["cert-corrupt"].description
    for scenario in CATALOG.values():
        if scenario.expect_remediation == "renewed":
            assert "VDB 406" in scenario.description, scenario.name


def test_readme_scenario_table_is_generated_from_the_catalog() -> None:
    """README.md's lab section holds exactly the table scenario_table() renders."""
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    assert scenario_table() in readme
