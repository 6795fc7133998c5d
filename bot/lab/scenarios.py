"""The catalog of emulated FMC behaviours, each with what fmccert must report for it.

Some scenarios play an FTD managed locally by FDM (``kind="ftd"``, field notice FN74284):
the same defect, files and check, with an FTD's banner and habits, and a remediation
fmccert refuses to run (FDM installs a VDB itself).

A :class:`Scenario` is plain data: the release and VDB an emulated FMC runs, how many
days its Talos certificate has left, and how its SSH session behaves (CLISH or bash,
sudo lecture, ANSI prompts, hangs, noise...). The ``expect_*`` fields are the finding a
correct probe must produce for it, derived from the rules in ``bot.core`` (thresholds
30/7 days); ``tests/lab`` checks that they agree with those rules.

Each scenario also plays the FMC side of a VDB-update remediation (cloud connectivity,
a failing installer, an SFTP upload cut halfway, free disk space), and
:attr:`Scenario.expect_remediation` says how a remediation with a VDB 406 package must
end on it:

- ``renewed``: the VDB installs and the Talos certificate is replaced by a new one;
- ``not_renewed``: the VDB installs but the certificate stays (no cloud connectivity);
- ``failed``: the install fails (``install_update.pl`` exits 1) or the upload is cut;
- ``refused``: the runner must not start (the VDB is already 406 or later, the
  finding's action is not ``vdb-update``: not affected, fixed release; or an FTD);
- ``n/a``: the probe itself fails first (auth, timeout, host key, unreachable, protocol).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import cycle, islice

from bot.errors import LabError

REMEDIATION_OUTCOMES = ("renewed", "not_renewed", "failed", "refused", "n/a")
"""Every value of :attr:`Scenario.expect_remediation`."""
# Probe errors raised before the certificate could be read: no remediation is planned.
_EARLY_ERRORS = frozenset({"auth", "timeout", "host_key", "unreachable", "protocol"})
FIXING_VDB_BUILD = 406
"""The VDB build that renews the certificate (FN74272). Stated here, not imported from
``bot.core``: the lab is the independent reference the core's rules are tested against."""

_FMC_VMWARE = "Cisco Secure Firewall Management Center for VMware"
# FTD model strings: 7.x images say "Secure Firewall", older ones "Firepower" (match loosely).
FTD_VMWARE = "Cisco Secure Firewall Threat Defense for VMware"
FTD_VMWARE_OLD = "Cisco Firepower Threat Defense for VMware"
KINDS = ("fmc", "ftd")
"""Every value of :attr:`Scenario.kind` (``bot.core.devices.DeviceKind``'s values)."""


@dataclass(frozen=True, slots=True)
class Scenario:
    """One emulated FMC: its release, certificate, session behaviour and expected finding."""

    name: str  # catalog key
    description: str
    expect_status: str  # what fmccert must report: ok|warning|critical|expired|unknown
    expect_error: str | None  # error kind fmccert must report, or None
    expect_action: str  # none|vdb-update|upgrade|investigate
    version: str = "7.6.0"
    build: str = "36"
    vdb_build: int = 400
    model: str = _FMC_VMWARE
    cert_days_left: float | None = 200.0  # None = certificate file missing
    cert_corrupt: bool = False  # file exists but is not a valid PEM cert
    clish: bool = True  # land at CLISH '>' after the banner; False = straight at bash '$'
    lecture: bool = False  # first sudo prints sudo's lecture before 'Password:'
    login_ok: bool = True  # False: SSH password auth always refused
    sudo_ok: bool = True  # False: sudo refuses every password
    hostname: str = "firepower"
    cwd: str = "~"  # shown in the bash prompt: ~, /Volume/home/admin, /opt/cisco/platform
    ansi: bool = False  # decorate prompts with ANSI escapes (bracketed paste, colours)
    command_delay: float = 0.0  # extra seconds before each command's output (slow FMC)
    hang_after_login: bool = False  # banner, then silence forever
    garbage: bool = False  # after login, endless noise, never a prompt
    ims_conf: bool = True  # False: /etc/sf/ims.conf missing, only /etc/sf/sf-version
    host_key_trusted: bool = True  # False: left out of the known_hosts the lab writes
    listening: bool = True  # False: config points to a closed loopback port (unreachable)
    cloud_connectivity: bool = True  # False: a VDB installs but does not renew the certificate
    install_fails: bool = False  # install_update.pl fails verification at once, exit 1
    upload_cut: bool = False  # the SFTP server drops the connection halfway through a file
    disk_free_mb: int = 30000  # free space on /Volume (df /var/sf/updates)
    # "ftd": an FTD managed locally by FDM (field notice FN74284): FX-OS banner lines,
    # written as `kind: ftd` in the lab's config. Plain text: the lab imports no bot.core.
    kind: str = "fmc"
    expert_disabled: bool = False  # FTD after `system lockdown`: `expert` is gone from CLISH

    @property
    def expect_remediation(self) -> str:
        """How a VDB 406 remediation must end here: renewed|not_renewed|failed|refused|n/a."""
        if self.expect_error in _EARLY_ERRORS:
            return "n/a"
        if self.kind == "ftd":
            # FDM installs a VDB through its own update mechanism: fmccert shows the manual
            # steps (--dry-run) and refuses to run them.
            return "refused"
        if self.expect_action != "vdb-update" or self.vdb_build >= FIXING_VDB_BUILD:
            return "refused"
        if self.install_fails or self.upload_cut:
            return "failed"
        if not self.cloud_connectivity:
            return "not_renewed"
        return "renewed"


# Error scenarios that stop the probe at an unknown point use releases that are not
# affected, so the expected action is "none" whether or not the probe read the version.
_SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        name="healthy-742",
        description="7.4.2, not affected, certificate good for 200 days",
        expect_status="ok",
        expect_error=None,
        expect_action="none",
        version="7.4.2",
        build="172",
    ),
    Scenario(
        name="affected-760-warning",
        description="7.6.0 with VDB 400, certificate expires in 20 days; VDB 406 renews it",
        expect_status="warning",
        expect_error=None,
        expect_action="vdb-update",
        cert_days_left=20.0,
    ),
    Scenario(
        name="affected-770-critical",
        description="7.7.0 with VDB 400, certificate expires in 5 days; VDB 406 renews it",
        expect_status="critical",
        expect_error=None,
        expect_action="vdb-update",
        version="7.7.0",
        build="91",
        cert_days_left=5.0,
    ),
    Scenario(
        name="affected-760-expired",
        description="7.6.0 with VDB 400, certificate expired 10 days ago; VDB 406 renews it",
        expect_status="expired",
        expect_error=None,
        expect_action="vdb-update",
        cert_days_left=-10.0,
    ),
    Scenario(
        name="expires-today",
        description=(
            "7.6.0 with VDB 400, certificate expires in about 7 hours;"
            " no cloud connectivity: VDB 406 installs, does NOT renew it"
        ),
        expect_status="critical",
        expect_error=None,
        expect_action="vdb-update",
        cert_days_left=0.3,
        cloud_connectivity=False,
    ),
    Scenario(
        name="fixed-761",
        description="7.6.1, the first fixed 7.6 release, certificate good",
        expect_status="ok",
        expect_error=None,
        expect_action="none",
        version="7.6.1",
        build="61",
    ),
    Scenario(
        name="fixed-7710",
        description="7.7.10 (first fixed 7.7); ANSI prompts, host fmc-east-lab, /Volume/home/admin",
        expect_status="ok",
        expect_error=None,
        expect_action="none",
        version="7.7.10",
        build="2",
        ansi=True,
        hostname="fmc-east-lab",
        cwd="/Volume/home/admin",
    ),
    Scenario(
        name="vdb-406-still-due",
        description="7.6.0 with VDB 406 but the certificate still expires in 3 days",
        expect_status="critical",
        expect_error=None,
        expect_action="upgrade",
        vdb_build=406,
        cert_days_left=3.0,
    ),
    Scenario(
        name="unaffected-critical",
        description="7.4.2, not affected, yet the certificate expires in 3 days",
        expect_status="critical",
        expect_error=None,
        expect_action="investigate",
        version="7.4.2",
        build="172",
        cert_days_left=3.0,
    ),
    Scenario(
        name="clish-off",
        description=(
            "login lands at bash '$' (no CLISH); no ims.conf, only sf-version;"
            " install_update.pl fails"
        ),
        expect_status="ok",
        expect_error=None,
        expect_action="vdb-update",
        clish=False,
        ims_conf=False,
        install_fails=True,
    ),
    Scenario(
        name="sudo-lecture",
        description="7.7.0 with the fixing VDB 406; sudo lectures first; cwd /opt/cisco/platform",
        expect_status="ok",
        expect_error=None,
        expect_action="none",
        version="7.7.0",
        build="91",
        vdb_build=406,
        lecture=True,
        cwd="/opt/cisco/platform",
    ),
    Scenario(
        name="wrong-password",
        description="the SSH server refuses the configured password",
        expect_status="unknown",
        expect_error="auth",
        expect_action="none",
        version="7.4.2",
        build="172",
        login_ok=False,
    ),
    Scenario(
        name="sudo-refused",
        description="SSH login works but sudo refuses the password three times",
        expect_status="unknown",
        expect_error="auth",
        expect_action="none",
        version="7.4.2",
        build="172",
        sudo_ok=False,
    ),
    Scenario(
        name="slow-commands",
        description="every command answers after 1 s; the check still succeeds",
        expect_status="ok",
        expect_error=None,
        expect_action="none",
        version="7.6.1",
        build="61",
        command_delay=1.0,
    ),
    Scenario(
        name="cert-missing",
        description="7.6.0 with VDB 400 and no certificate file at all; VDB 406 issues one",
        expect_status="unknown",
        expect_error="cert_missing",
        expect_action="vdb-update",
        cert_days_left=None,
    ),
    Scenario(
        name="cert-corrupt",
        description=(
            "7.6.0 with VDB 400; the certificate file holds a broken PEM block;"
            " SFTP upload cut halfway"
        ),
        expect_status="unknown",
        expect_error="cert_invalid",
        expect_action="vdb-update",
        cert_corrupt=True,
        upload_cut=True,
    ),
    Scenario(
        name="hang-after-login",
        description="prints the banner, then nothing ever again",
        expect_status="unknown",
        expect_error="timeout",
        expect_action="none",
        version="7.4.2",
        build="172",
        hang_after_login=True,
    ),
    Scenario(
        name="garbage-talker",
        description="after login, floods random text (MBs/s) and never shows a prompt",
        # The flood passes a probe's 256 KiB no-prompt cap well within a second.
        expect_status="unknown",
        expect_error="protocol",
        expect_action="none",
        version="7.4.2",
        build="172",
        garbage=True,
    ),
    Scenario(
        name="untrusted-host-key",
        description="healthy FMC whose host key is left out of known_hosts",
        expect_status="unknown",
        expect_error="host_key",
        expect_action="none",
        version="7.4.2",
        build="172",
        host_key_trusted=False,
    ),
    Scenario(
        name="not-listening",
        description="the configured port is closed: nothing answers",
        expect_status="unknown",
        expect_error="unreachable",
        expect_action="none",
        version="7.4.2",
        build="172",
        listening=False,
    ),
    Scenario(
        name="ftd-affected-760",
        description=(
            "FTD 7.6.0 (FDM) with VDB 400, certificate expires in 12 days; FX-OS banner,"
            " sudo lecture, cwd /opt/cisco/platform"
        ),
        expect_status="warning",
        expect_error=None,
        expect_action="vdb-update",
        kind="ftd",
        model=FTD_VMWARE,
        cert_days_left=12.0,
        lecture=True,
        cwd="/opt/cisco/platform",
    ),
    Scenario(
        name="ftd-fixed-761",
        description="FTD 7.6.1 (FDM), the first fixed 7.6 release, certificate good",
        expect_status="ok",
        expect_error=None,
        expect_action="none",
        kind="ftd",
        model=FTD_VMWARE_OLD,
        version="7.6.1",
        build="61",
        lecture=True,
        cwd="/opt/cisco/platform",
    ),
    Scenario(
        name="ftd-lockdown",
        description=(
            "FTD 7.6.1 after `system lockdown`: CLISH has no `expert`, so nothing can be"
            " read (protocol: expert mode is unavailable)"
        ),
        expect_status="unknown",
        expect_error="protocol",
        expect_action="none",
        kind="ftd",
        model=FTD_VMWARE,
        version="7.6.1",
        build="61",
        expert_disabled=True,
    ),
)

CATALOG: dict[str, Scenario] = {scenario.name: scenario for scenario in _SCENARIOS}
"""Every scenario by name, in catalog order."""


def get_scenario(name: str) -> Scenario:
    """The catalog scenario called ``name``; LabError naming the valid ones otherwise."""
    try:
        return CATALOG[name]
    except KeyError:
        valid = ", ".join(CATALOG)
        raise LabError(f"unknown lab scenario {name!r}; valid scenarios: {valid}") from None


def pick_scenarios(count: int, names: Sequence[str] | None = None) -> list[Scenario]:
    """``count`` scenarios cycling through ``names`` (default: the whole catalog, in order)."""
    if count < 0:
        raise LabError(f"the lab needs a host count of 0 or more, not {count}")
    chosen = [get_scenario(name) for name in names] if names is not None else list(_SCENARIOS)
    if not chosen:
        raise LabError("no lab scenarios named: give at least one scenario name")
    return list(islice(cycle(chosen), count))


def scenario_table() -> str:
    """The catalog as the Markdown table in README.md's lab section."""
    rows = [
        "| scenario | what it plays | expected status / error / action | remediation |",
        "|---|---|---|---|",
    ]
    for scenario in _SCENARIOS:
        expected = " / ".join(
            (scenario.expect_status, scenario.expect_error or "-", scenario.expect_action)
        )
        rows.append(
            f"| `{scenario.name}` | {scenario.description} | {expected}"
            f" | {scenario.expect_remediation} |"
        )
    return "\n".join(rows) + "\n"
