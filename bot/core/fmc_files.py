"""Parsers for the FMC files the probe reads in expert mode (pure text in, values out)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_KEY_VALUE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")
_SF_VERSION = re.compile(r"v?(\d+\.\d+\.\d+(?:\.\d+)?)\s*\(\s*build\s+(\d+)\s*\)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class SoftwareVersion:
    """FMC software release and build, e.g. ``7.6.0`` build ``36``."""

    version: str
    build: str | None


def parse_key_values(text: str) -> dict[str, str]:
    """Parse shell-style ``KEY=value`` lines, dropping surrounding quotes."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        match = _KEY_VALUE.match(line)
        if match:
            values[match.group(1).upper()] = match.group(2).strip().strip("\"'")
    return values


def parse_ims_conf(text: str) -> SoftwareVersion | None:
    """Version and build from ``/etc/sf/ims.conf`` (``SWVERSION=``, ``SWBUILD=``)."""
    values = parse_key_values(text)
    version = values.get("SWVERSION")
    if not version:
        return None
    return SoftwareVersion(version=version, build=values.get("SWBUILD") or None)


def parse_sf_version(text: str) -> SoftwareVersion | None:
    """Version and build from ``/etc/sf/sf-version`` (``... v7.6.0 (build 36)``)."""
    match = _SF_VERSION.search(text)
    if not match:
        return None
    return SoftwareVersion(version=match.group(1), build=match.group(2))


def parse_vdb_conf(text: str) -> int | None:
    """Installed VDB build from ``/etc/sf/.versiondb/vdb.conf`` (``CURRENT_BUILD=``)."""
    raw = parse_key_values(text).get("CURRENT_BUILD", "")
    return int(raw) if raw.isascii() and raw.isdigit() else None


def parse_model_conf(text: str) -> str | None:
    """Model name from ``/etc/sf/model.conf``; the key's wording varies, so match loosely."""
    values = parse_key_values(text)
    for key in ("MODEL", "MODEL_NAME", "MODELNAME"):
        if values.get(key):
            return values[key]
    for key, value in values.items():
        if "MODEL" in key and value and not value.isdigit():
            return value
    return None
