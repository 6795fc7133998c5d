"""Tests of the parsers for files read from an FMC in expert mode."""

from __future__ import annotations

from bot.core.fmc_files import (
    SoftwareVersion,
    parse_ims_conf,
    parse_model_conf,
    parse_sf_version,
    parse_vdb_conf,
)


def test_ims_conf_gives_version_and_build() -> None:
    """SWVERSION and SWBUILD come out of ims.conf among other keys."""
    text = "SWVERSION=7.6.0\nSWBUILD=36\nOTHER=1\n"
    assert parse_ims_conf(text) == SoftwareVersion("7.6.0", "36")


def test_ims_conf_tolerates_quotes_spaces_and_crlf() -> None:
    """Quoted values, spaces around '=' and CRLF line ends are accepted."""
    assert parse_ims_conf('SWVERSION = "7.7.0"\r\nSWBUILD="91"\r\n') == SoftwareVersion(
        "7.7.0", "91"
    )


def test_ims_conf_without_version_is_none() -> None:
    """An ims.conf without SWVERSION (or a cat error) gives no version."""
    assert parse_ims_conf("cat: /etc/sf/ims.conf: No such file or directory") is None


def test_sf_version_line() -> None:
    """The one-line product string yields version and build."""
    text = "Cisco Firepower Management Center for VMWare v6.4.0 (build 102)"
    assert parse_sf_version(text) == SoftwareVersion("6.4.0", "102")
    banner = "Cisco Secure Firewall Management Center for VMWare 300 v7.4.2 (build 172)"
    assert parse_sf_version(banner) == SoftwareVersion("7.4.2", "172")
    assert parse_sf_version("garbage") is None


def test_vdb_conf_current_build() -> None:
    """CURRENT_BUILD is the VDB build; a missing or non-numeric one is None."""
    assert parse_vdb_conf("CURRENT_VERSION=4.5.0\nCURRENT_BUILD=406\n") == 406
    assert parse_vdb_conf("CURRENT_VERSION=4.5.0\n") is None
    assert parse_vdb_conf("CURRENT_BUILD=abc\n") is None
    assert parse_vdb_conf("CURRENT_BUILD=4²\n") is None  # a Unicode digit is not a build


def test_model_conf_matches_loosely() -> None:
    """The model is read from MODEL= or any *MODEL* key whose wording varies."""
    assert parse_model_conf('MODEL="Cisco Firepower Management Center for VMWare"\n') == (
        "Cisco Firepower Management Center for VMWare"
    )
    assert parse_model_conf("MODELNUMBER=66\nMODEL_TYPE=Secure FMC 1700\n") == "Secure FMC 1700"
    assert parse_model_conf("") is None
