"""The emulated FMC lab: fake Cisco FMCs over real SSH on loopback, for trying and testing.

fmccert talks to FMCs over SSH, and the interesting failures (a sudo lecture, ANSI
prompts, a box that hangs after the banner, one that floods noise) live in that
conversation. The lab reproduces it with real protocols instead of mocks: each emulated
FMC is an SSH server on ``127.0.0.1`` with its own port and ed25519 host key, speaking
the FMC's CLISH (``>``), ``expert`` bash, sudo (bare ``Password:``) and files
(``/etc/sf/ims.conf``, ``sf-version``, ``vdb.conf``, the root-only Talos certificate
``/var/sf/beaker3/securefirewall-dev-prod-01_prod.pem``) as ``docs/fmc-facts.md``
describes a real one.

Modules:

- :mod:`bot.lab.scenarios`: the catalog (``CATALOG``, ``pick_scenarios``). Each
  scenario fixes the release, VDB build, certificate days left and session behaviour,
  and the finding a correct check must report (``expect_status``, ``expect_error``,
  ``expect_action``). It covers healthy, warning, critical, expired and
  expiring-today certificates on affected and fixed releases, VDB 406, CLISH off, the
  sudo lecture, ANSI prompts, ``sf-version`` only, wrong SSH or sudo passwords, slow
  commands, a missing or corrupt certificate, a hang, a garbage flood, an untrusted host
  key and a closed port. Each also fixes how a VDB-update remediation goes
  (``cloud_connectivity``, ``install_fails``, ``upload_cut``, ``disk_free_mb``) and
  ``expect_remediation`` says how it must end: ``renewed``, ``not_renewed``, ``failed``,
  ``refused`` or ``n/a``.
- :mod:`bot.lab.certs`: Talos-like certificates (``Keymaster CA 2``) dated relative to
  a given ``now``, and ``openssl x509`` style renderings of them.
- :mod:`bot.lab.shell`: the FMC session as a stdlib-only async state machine over a
  small ``Terminal`` protocol (``run_interactive``, ``run_exec``), with the state one
  host's sessions share (``FmcHost``: files, VDB, installs) and the VDB update commands
  (``df``, ``sha256sum``, ``rm``, ``ls -l``, ``install_update.pl``).
- :mod:`bot.lab.appliance`: a scenario turned into the session config (files,
  certificate, renderings, prompts), and what a completed VDB install does (renew the
  certificate for VDB 406+ with cloud connectivity).
- :mod:`bot.lab.packages`: fake VDB packages (``write_vdb_package``), real tars
  generated on demand with the same bytes every time.
- :mod:`bot.lab.server`: ``start_lab`` runs the hosts as asyncssh servers in-process,
  with SFTP into a per-host ``/var/sf/updates`` temp dir (``install_delay`` sets how long
  an install takes); ``RunningLab.write_config`` writes an fmccert YAML config,
  ``known_hosts`` (trusted hosts only), ``lab.password`` (0600) and a VDB 406 package
  named in the config's ``remediation:`` section, so ``fmccert --config ... scan`` and
  ``remediate`` work on them. ``vdb_build``, ``certificate_pem`` and ``updates_dir``
  show a host's state now, for tests.
- :mod:`bot.lab.login_shell` and :mod:`bot.lab.sshd_shell`: the same session as the
  login shell of a user under OpenSSH's own sshd, to prove the client against a server
  this project did not write (used by the test suite's sshd fixture).
- :mod:`bot.lab.slack`: the same idea for the other side of the bot, a stand-in for
  Slack's servers on loopback (Web API, response URLs, Socket Mode) with a workspace
  model, and a web console that shows it as Slack would.
- :mod:`bot.lab.demo`: ``fmccert demo``, the lab, the Slack stand-in with its console and
  the real bot wired together.

Use it from code::

    from datetime import UTC, datetime
    from bot.lab import pick_scenarios, start_lab

    async with await start_lab(pick_scenarios(23), now=datetime.now(UTC), install_delay=0.3) as lab:
        lab.write_config(Path("lab/fmccert.yaml"))
        ...  # run checks; lab.expected_findings() says what each host must report

or from the command line with ``fmccert lab``. Every password, key and certificate is
generated at start; nothing secret is stored in the repository.
"""

from __future__ import annotations

from bot.lab.packages import write_vdb_package
from bot.lab.scenarios import CATALOG, Scenario, get_scenario, pick_scenarios
from bot.lab.server import LabHost, RunningLab, start_lab

__all__ = [
    "CATALOG",
    "LabHost",
    "RunningLab",
    "Scenario",
    "get_scenario",
    "pick_scenarios",
    "start_lab",
    "write_vdb_package",
]
