"""What kind of box a configured device is, and how fmccert reads it.

CSCwo63951 hits the FMC (field notice FN74272) and FTD devices managed locally by FDM
(FN74284) alike: same releases, same certificate path, same check. The FMC REST API is
a second, read-only way in for FMCs: it tells the release and VDB (enough to say whether
the certificate can renew), never the certificate itself.
"""

from __future__ import annotations

import enum


class DeviceKind(enum.StrEnum):
    """The box: a Management Center, or an FTD managed locally by FDM."""

    FMC = "fmc"
    FTD = "ftd"

    @property
    def label(self) -> str:
        """How people name it."""
        return "FMC" if self is DeviceKind.FMC else "FTD"


class Access(enum.StrEnum):
    """How fmccert reads a device: SSH (everything), REST (no shell), or both merged."""

    SSH = "ssh"
    REST = "rest"
    BOTH = "both"

    @property
    def uses_ssh(self) -> bool:
        """Does this access read the device over SSH (and so the certificate)?"""
        return self is not Access.REST

    @property
    def uses_rest(self) -> bool:
        """Does this access read the device over the FMC REST API?"""
        return self is not Access.SSH
