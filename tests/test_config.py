"""Tests of reading and validating the configuration file."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import (
    DigestSettings,
    ScheduledScanSettings,
    ScheduleSettings,
    SlackSettings,
    load_config,
    resolve_config_path,
)
from bot.errors import ConfigError

ENV = {"FMC_PASSWORD": "s3cret-pass", "EAST_PW": "east-pass"}
MINIMAL = """
defaults:
  username: admin
  password_env: FMC_PASSWORD
  known_hosts: known_hosts
fmcs:
  - name: fmc-east
    host: 10.1.2.3
    tags: [prod, east]
  - name: fmc-west
    host: 10.1.2.4
    port: 2222
    username: ops
    password_env: EAST_PW
thresholds: {warning_days: 45, critical_days: 10}
ssh: {concurrency: 5, connect_timeout: 3, command_timeout: 4, host_timeout: 20}
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fmccert.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_full_example_file_loads(tmp_path: Path) -> None:
    """The shipped example config validates (with its password variable set)."""
    example = Path(__file__).parent.parent / "config" / "fmccert.example.yaml"
    path = _write(tmp_path, example.read_text(encoding="utf-8"))
    config = load_config(path, ENV)
    assert config.names()


def test_values_defaults_and_overrides(tmp_path: Path) -> None:
    """Defaults apply, per-FMC overrides win, paths resolve relative to the file."""
    config = load_config(_write(tmp_path, MINIMAL), ENV)
    east, west = config.fmcs
    assert east.target.username == "admin"
    assert east.target.port == 22
    assert east.target.password.reveal() == "s3cret-pass"
    assert east.target.known_hosts == tmp_path / "known_hosts"
    assert east.tags == ("prod", "east")
    assert west.target.username == "ops"
    assert west.target.port == 2222
    assert west.target.password.reveal() == "east-pass"
    assert config.thresholds.warning_days == 45
    assert config.thresholds.critical_days == 10
    assert config.concurrency == 5
    assert config.timeouts.host == 20
    assert config.select(tag="east") == [east]
    assert config.select(["fmc-west", "fmc-east"]) == [west, east]


def test_password_never_in_repr(tmp_path: Path) -> None:
    """The resolved config's repr shows no password."""
    config = load_config(_write(tmp_path, MINIMAL), ENV)
    assert "s3cret-pass" not in repr(config)
    assert "east-pass" not in repr(config)


def test_password_file_is_read_relative_to_the_config(tmp_path: Path) -> None:
    """password_file names a file beside the config whose first line is the password."""
    (tmp_path / "lab.password").write_text("from-file\n", encoding="utf-8")
    text = "defaults: {password_file: lab.password}\nfmcs: [{name: a, host: 127.0.0.1}]\n"
    config = load_config(_write(tmp_path, text), {})
    assert config.fmcs[0].target.password.reveal() == "from-file"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("fmcs: [\n  {name: a, host: b\n", "line"),
        ("fmcs:\n  - name: a\n    host: b\n    colour: red\n", "fmcs[a].colour: unknown key"),
        ("fmcs:\n  - {name: a, host: b}\n  - {name: a, host: c}\n", "duplicate FMC name 'a'"),
        ("fmcs:\n  - {name: Bad_Name, host: b}\n", "fmcs[Bad_Name].name: must match"),
        ("fmcs:\n  - {name: a, host: b, port: 70000}\n", "fmcs[a].port"),
        ("thresholds: {warning_days: 5, critical_days: 10}\n", "critical_days must not be"),
        ("ssh: {concurrency: 0}\n", "ssh.concurrency"),
        ("bogus: 1\n", "bogus: unknown key"),
        ("- just\n- a list\n", "top level must be a mapping"),
        ("fmcs: []\nfmcs: []\n", "duplicate key 'fmcs'"),
        ("slack: {approvers: U1}\n", "slack.approvers"),
    ],
)
def test_bad_files_give_one_line_naming_the_key(tmp_path: Path, text: str, message: str) -> None:
    """Malformed YAML, unknown keys, duplicates and bad values are one-line ConfigErrors."""
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, text), ENV)
    text_of_error = str(caught.value)
    assert message in text_of_error
    assert "\n" not in text_of_error
    assert str(tmp_path / "fmccert.yaml") in text_of_error


def test_missing_password_variable_is_named(tmp_path: Path) -> None:
    """A password variable that is not set is an error naming the variable and FMC."""
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, MINIMAL), {"FMC_PASSWORD": "x"})
    assert "EAST_PW is not set" in str(caught.value)
    assert "fmc-west" in str(caught.value)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    """A config path that does not exist says so and how to point elsewhere."""
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml", ENV)


def test_config_path_precedence() -> None:
    """--config beats $FMCCERT_CONFIG, which beats config/fmccert.yaml."""
    assert resolve_config_path("a.yaml", {"FMCCERT_CONFIG": "b.yaml"}) == Path("a.yaml")
    assert resolve_config_path(None, {"FMCCERT_CONFIG": "b.yaml"}) == Path("b.yaml")
    assert resolve_config_path(None, {}) == Path("config/fmccert.yaml")


def test_remediation_section_resolves_paths_and_units(tmp_path: Path) -> None:
    """The package path is relative to the config; minutes become seconds; overrides kept."""
    text = MINIMAL + (
        "remediation:\n"
        "  vdb_package: pkgs/Cisco_VDB_Fingerprint_Database-4.5.0-406.sh.REL.tar\n"
        "  vdb_install_timeout_minutes: 5\n"
        "  vdb_poll_interval_seconds: 2\n"
        "  steps: {install-vdb: {timeout: 900}}\n"
    )
    settings = load_config(_write(tmp_path, text), ENV).remediation
    assert (
        settings.vdb_package
        == tmp_path / "pkgs/Cisco_VDB_Fingerprint_Database-4.5.0-406.sh.REL.tar"
    )
    assert settings.vdb_install_timeout == 300
    assert settings.vdb_poll_interval == 2
    assert settings.restart_command is None
    assert settings.step_overrides["install-vdb"].timeout == 900
    assert settings.step_overrides["install-vdb"].command is None


def test_storage_password_comes_from_the_environment(tmp_path: Path) -> None:
    """storage.password_env names a variable; unset is an error, set is kept secret."""
    text = (
        MINIMAL + "storage: {url: 'postgresql+asyncpg://fmccert@db/fmccert', password_env: DB_PW}\n"
    )
    with pytest.raises(ConfigError, match="DB_PW is not set"):
        load_config(_write(tmp_path, text), ENV)
    config = load_config(_write(tmp_path, text), {**ENV, "DB_PW": "db-secret"})
    assert config.storage_password is not None
    assert config.storage_password.reveal() == "db-secret"
    assert "db-secret" not in repr(config)


def test_unknown_remediation_step_override_is_named(tmp_path: Path) -> None:
    """A step override for a step no plan has is an error listing the real steps."""
    text = MINIMAL + "remediation: {steps: {instal-vdb: {timeout: 5}}}\n"
    with pytest.raises(ConfigError, match=r"unknown step 'instal-vdb'.*install-vdb"):
        load_config(_write(tmp_path, text), ENV)


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ("{scans: [{cron: '61 6 * * *'}]}", "invalid cron expression '61 6 * * *'"),
        ("{scans: [{cron: '0 6 * * *', timezone: Mars/Olympus}]}", "unknown time zone"),
        ("{digest: {cron: 'every day'}}", "invalid cron expression"),
        ("{renotify_hours: 0}", "renotify_hours"),
    ],
)
def test_schedule_section_is_validated(tmp_path: Path, schedule: str, message: str) -> None:
    """Cron expressions, time zones and intervals are checked before anything runs."""
    with pytest.raises(ConfigError, match=message.replace("*", r"\*")):
        load_config(_write(tmp_path, MINIMAL + f"schedule: {schedule}\n"), ENV)


def test_cron_weekdays_are_crontab_weekdays(tmp_path: Path) -> None:
    """`0 6 * * 7` (Sunday in crontab) is accepted, as crontab users expect."""
    text = MINIMAL + "schedule: {scans: [{cron: '0 6 * * 7'}, {cron: '0 6 * * 1-5'}]}\n"
    assert len(load_config(_write(tmp_path, text), ENV).schedule.scans) == 2


def test_slack_and_schedule_sections_resolve_to_typed_settings(tmp_path: Path) -> None:
    """The slack and schedule sections become typed records: tuples, hours as timedeltas."""
    text = MINIMAL + (
        "slack: {alert_channel: C1, approvers: [U1], approval_ttl_hours: 2,"
        " scan_requester_groups: [S1]}\n"
        "schedule: {scans: [{cron: '0 6 * * *', timezone: Europe/Berlin, tag: prod}],"
        " renotify_hours: 12, stale_after_hours: 1.5, digest: {cron: '30 7 * * 1-5'}}\n"
    )
    config = load_config(_write(tmp_path, text), ENV)
    assert config.slack == SlackSettings(
        alert_channel="C1",
        approvers=("U1",),
        approval_ttl=timedelta(hours=2),
        scan_requester_groups=("S1",),
    )
    assert config.schedule == ScheduleSettings(
        scans=(ScheduledScanSettings("0 6 * * *", "Europe/Berlin", "prod"),),
        renotify=timedelta(hours=12),
        stale_after=timedelta(minutes=90),
        digest=DigestSettings("30 7 * * 1-5", "UTC"),
    )
    defaults = load_config(_write(tmp_path, MINIMAL), ENV)
    assert (defaults.slack, defaults.schedule) == (SlackSettings(), ScheduleSettings())


_FMC = "fmcs:\n  - {name: a, host: b%s}\n"


@pytest.mark.parametrize(
    ("text", "where", "code"),
    [
        ('defaults: {cert_path: "/x\\x15id #"}\n', "defaults.cert_path", "U+0015"),
        (_FMC % ', cert_path: "/x\\nid"', "fmcs[a].cert_path", "U+000A"),
        (_FMC % ', username: "ad\\x1bmin"', "fmcs[a].username", "U+001B"),
        ('defaults: {username: "admin\\r"}\n', "defaults.username", "U+000D"),
        ('remediation: {updates_dir: "/var/sf/up\\x15dates"}\n', "remediation.updates_dir",
         "U+0015"),
        ('remediation: {restart_command: "sudo pmtool\\trestart"}\n',
         "remediation.restart_command", "U+0009"),
        ('remediation: {steps: {install-vdb: {command: "x\\x7fy"}}}\n',
         "remediation.steps.install-vdb.command", "U+007F"),
        ('remediation: {vdb_package: "Cisco_VDB\\x9b.tar"}\n', "remediation.vdb_package",
         "U+009B"),
    ],
)  # fmt: skip
def test_control_characters_in_shell_values_are_refused(
    tmp_path: Path, text: str, where: str, code: str
) -> None:
    """A control character in a value typed into the FMC's shell is a one-line error."""
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, text), ENV)
    message = str(caught.value)
    assert f"{where}: must not contain control characters (found {code}" in message
    assert "\n" not in message
    assert not any(ord(ch) < 32 or 0x7F <= ord(ch) <= 0x9F for ch in message)


def test_shell_metacharacters_are_accepted_for_quoting(tmp_path: Path) -> None:
    """`;`, `$(...)` and spaces are valid path characters: they load, to be shell-quoted."""
    text = (
        'defaults: {cert_path: "/var/a b; $(id) `id`.pem"}\n'
        'remediation: {updates_dir: "/var/sf/up dates;id"}\n' + _FMC % ""
    )
    config = load_config(_write(tmp_path, text), ENV)
    assert config.fmcs[0].target.cert_path == "/var/a b; $(id) `id`.pem"
    assert config.remediation.updates_dir == "/var/sf/up dates;id"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("fmcs: " + "[" * 10000 + "]" * 10000 + "\n", "nested too deeply"),
        ("fmcs: " + "[" * 100 + "]" * 100 + "\n", "nested more than 64 levels"),
        (
            "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
            + "".join(
                f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n"
                for i in range(8)
            ),
            "alias bomb",
        ),
        ("a: &a [*a]\n", "nested more than 64 levels"),  # a list holding itself
    ],
)
def test_deep_or_exploding_yaml_is_a_config_error(tmp_path: Path, text: str, message: str) -> None:
    """Deep nesting and alias bombs are one-line ConfigErrors naming the file."""
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, text), ENV)
    assert message in str(caught.value)
    assert str(caught.value).startswith(str(tmp_path / "fmccert.yaml"))
    assert "\n" not in str(caught.value)


DEVICES = """
defaults:
  password_env: FMC_PASSWORD
  rest: {username: api-user, password_env: API_PW}
fmcs:
  - name: fmc-east
    host: 10.1.2.3
  - name: ftd-branch
    host: 10.1.2.9
    kind: ftd
  - name: fmc-api
    host: 10.1.2.5
    access: rest
    rest: {port: 8443, insecure_skip_verify: true}
  - name: fmc-both
    host: 10.1.2.6
    access: both
"""


def test_kinds_and_access_modes_resolve_with_rest_defaults(tmp_path: Path) -> None:
    """kind and access default to fmc/ssh; REST keys merge over defaults.rest per FMC."""
    from bot.core.devices import Access, DeviceKind

    env = {"FMC_PASSWORD": "ssh-pass-123", "API_PW": "api-pass-456"}
    config = load_config(_write(tmp_path, DEVICES), env)
    east, ftd, api, both = (entry.target for entry in config.fmcs)
    assert (east.kind, east.access, east.rest) == (DeviceKind.FMC, Access.SSH, None)
    assert (ftd.kind, ftd.access) == (DeviceKind.FTD, Access.SSH)
    assert api.access is Access.REST
    assert api.rest is not None
    assert (api.rest.port, api.rest.username, api.rest.insecure_skip_verify) == (
        8443, "api-user", True,
    )  # fmt: skip
    assert api.rest.password.reveal() == "api-pass-456"
    assert both.rest is not None
    assert (both.rest.port, both.rest.insecure_skip_verify) == (443, False)


def test_a_rest_only_fmc_needs_no_ssh_password(tmp_path: Path) -> None:
    """access: rest reads with the API user alone: FMC_PASSWORD may be unset."""
    text = DEVICES.replace("  - name: fmc-east\n    host: 10.1.2.3\n", "").replace(
        "  - name: ftd-branch\n    host: 10.1.2.9\n    kind: ftd\n", ""
    ).replace("    access: both\n", "    access: rest\n")  # fmt: skip
    config = load_config(_write(tmp_path, text), {"API_PW": "api-pass-456"})
    assert [entry.name for entry in config.fmcs] == ["fmc-api", "fmc-both"]


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (("kind: ftd", "kind: asa"), "fmcs[ftd-branch].kind"),
        (("rest: {port: 8443, insecure_skip_verify: true}",
          "rest: {port: 8443, insecure_skip_verify: 'yes'}"),
         "fmcs[fmc-api].rest.insecure_skip_verify"),
        (("  rest: {username: api-user, password_env: API_PW}\n", ""),
         "fmcs[fmc-api].rest: access: rest needs rest.username"),
        (("access: rest", "access: sometimes"), "fmcs[fmc-api].access"),
        (("    kind: ftd\n", "    kind: ftd\n    access: rest\n"),
         "fmcs[ftd-branch].access: rest reads the FMC REST API, which an FTD does not have"),
        (("rest: {port: 8443, insecure_skip_verify: true}",
          "rest: {port: 8443, ca_file: missing-ca.pem}"), "fmcs[fmc-api].rest.ca_file"),
    ],
)  # fmt: skip
def test_bad_device_settings_are_one_line_errors_naming_the_key(
    tmp_path: Path, change: tuple[str, str], words: str
) -> None:
    """An unknown kind, a non-boolean insecure_skip_verify, REST without credentials..."""
    old, new = change
    assert old in DEVICES
    env = {"FMC_PASSWORD": "ssh-pass-123", "API_PW": "api-pass-456"}
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, DEVICES.replace(old, new)), env)
    message = str(caught.value)
    assert words in message
    assert "\n" not in message
