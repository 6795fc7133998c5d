"""The configuration file: validated once, at the composition root.

The YAML format is the contract in ``product.md``. Secrets never live in the file: it
names an environment variable (``password_env``) or, as an extension for secrets
mounted as files (Docker/Kubernetes secrets, the lab), a file (``password_file``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.core.cron import check_cron
from bot.core.devices import Access, DeviceKind
from bot.core.expiry import Thresholds
from bot.errors import ConfigError, UsageError
from bot.fmc.target import DEFAULT_CERT_PATH, ProbeTarget, ProbeTimeouts, RestTarget
from bot.remediation.plan import STEP_NAMES
from bot.remediation.settings import RemediationSettings, StepOverride
from bot.secrets import Secret

DEFAULT_CONFIG_PATH = Path("config/fmccert.yaml")
CONFIG_ENV = "FMCCERT_CONFIG"
NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]*$"
_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


# C0 (tab and newline included), DEL and C1. These values are typed into the FMC's line
# editor, where Ctrl-U erases what came before, Tab completes and a newline ends the
# line: shell quoting cannot protect against that, so such a value is refused outright.
_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _no_control_characters(value: str) -> str:
    found = _CONTROL_CHARACTER.search(value)
    if found is not None:
        raise ValueError(
            f"must not contain control characters (found U+{ord(found.group()):04X} at "
            f"position {found.start() + 1}): it would be typed into the FMC's shell"
        )
    return value


ShellText = Annotated[str, AfterValidator(_no_control_characters)]
"""A config string that reaches the FMC's shell (or its login): no control characters."""


class _Strict(BaseModel):
    # Unknown keys are errors: a typo must not silently fall back to a default.
    model_config = ConfigDict(extra="forbid", frozen=True)


class RestModel(_Strict):
    """The FMC REST API of an FMC: its own (API) user, TLS verification settings."""

    port: Annotated[int, Field(ge=1, le=65535)] | None = None
    username: Annotated[str, Field(min_length=1)] | None = None
    password_env: Annotated[str, Field(pattern=_ENV_NAME)] | None = None
    password_file: str | None = None
    ca_file: str | None = None
    insecure_skip_verify: StrictBool | None = None
    requests_per_minute: Annotated[int, Field(ge=1, le=120)] | None = None


class DefaultsModel(_Strict):
    kind: DeviceKind = DeviceKind.FMC
    access: Access = Access.SSH
    rest: RestModel = RestModel()
    username: ShellText = "admin"
    # The name of a variable, not a password.
    password_env: Annotated[str, Field(pattern=_ENV_NAME)] | None = "FMC_PASSWORD"  # noqa: S105
    password_file: str | None = None
    known_hosts: str = "known_hosts"
    cert_path: ShellText = DEFAULT_CERT_PATH


class FmcModel(_Strict):
    name: Annotated[str, Field(pattern=NAME_PATTERN, max_length=64)]
    host: Annotated[str, Field(min_length=1)]
    port: Annotated[int, Field(ge=1, le=65535)] = 22
    tags: list[Annotated[str, Field(min_length=1)]] = []
    username: ShellText | None = None
    password_env: Annotated[str, Field(pattern=_ENV_NAME)] | None = None
    password_file: str | None = None
    known_hosts: str | None = None
    cert_path: ShellText | None = None
    kind: DeviceKind | None = None
    access: Access | None = None
    rest: RestModel | None = None


class ThresholdsModel(_Strict):
    warning_days: Annotated[int, Field(ge=0)] = 30
    critical_days: Annotated[int, Field(ge=0)] = 7

    @model_validator(mode="after")
    def _critical_within_warning(self) -> ThresholdsModel:
        if self.critical_days > self.warning_days:
            raise ValueError("critical_days must not be greater than warning_days")
        return self


class SshModel(_Strict):
    concurrency: Annotated[int, Field(ge=1, le=1000)] = 50
    connect_timeout: Annotated[float, Field(gt=0)] = 10
    command_timeout: Annotated[float, Field(gt=0)] = 60
    host_timeout: Annotated[float, Field(gt=0)] = 120


class SlackModel(_Strict):
    alert_channel: str | None = None
    approvers: list[str] = []
    approver_groups: list[str] = []
    command_channels: list[str] = []
    two_person_rule: bool = True
    approval_ttl_hours: Annotated[float, Field(gt=0)] = 24
    # Who may start a fleet scan from Slack; both unset: the approvers (ids and groups).
    scan_requesters: list[str] | None = None
    scan_requester_groups: list[str] | None = None
    # Fleet scans one user may start from Slack per hour (0: no limit).
    scans_per_user_per_hour: Annotated[int, Field(ge=0)] = 6


class StepOverrideModel(_Strict):
    command: Annotated[ShellText, Field(min_length=1)] | None = None
    timeout: Annotated[float, Field(gt=0)] | None = None


class RemediationModel(_Strict):
    vdb_package: ShellText | None = None  # its file name is typed into the FMC's shell
    vdb_install_timeout_minutes: Annotated[float, Field(gt=0)] = 60
    restart_command: Annotated[ShellText, Field(min_length=1)] | None = None
    updates_dir: Annotated[ShellText, Field(pattern=r"^/")] = "/var/sf/updates"
    vdb_poll_interval_seconds: Annotated[float, Field(gt=0)] = 30
    min_free_mb: Annotated[int, Field(ge=0)] = 0
    # How long the verify step keeps re-reading for a renewed certificate after a fix.
    verify_wait_seconds: Annotated[float, Field(ge=0)] = 0
    steps: dict[str, StepOverrideModel] = {}

    @field_validator("steps")
    @classmethod
    def _known_steps(cls, steps: dict[str, StepOverrideModel]) -> dict[str, StepOverrideModel]:
        unknown = sorted(set(steps) - STEP_NAMES)
        if unknown:
            raise ValueError(
                f"unknown step {unknown[0]!r} (steps: {', '.join(sorted(STEP_NAMES))})"
            )
        return steps


class ScheduledScanModel(_Strict):
    cron: Annotated[str, Field(min_length=1)]
    timezone: str = "UTC"
    tag: str | None = None

    @model_validator(mode="after")
    def _valid_cron(self) -> ScheduledScanModel:
        check_cron(self.cron, self.timezone)
        return self


class DigestModel(_Strict):
    cron: Annotated[str, Field(min_length=1)]
    timezone: str = "UTC"

    @model_validator(mode="after")
    def _valid_cron(self) -> DigestModel:
        check_cron(self.cron, self.timezone)
        return self


class ScheduleModel(_Strict):
    scans: list[ScheduledScanModel] = []
    # Open critical or expired incidents are brought up again in their thread this often.
    renotify_hours: Annotated[float, Field(gt=0)] = 24
    # An FMC not checked successfully for this long is stale, itself an alert;
    # None: 2 x the shortest period of ``scans`` (48 h when there are none).
    stale_after_hours: Annotated[float, Field(gt=0)] | None = None
    digest: DigestModel | None = None  # one message a day (or as the cron says) on the fleet


class StorageModel(_Strict):
    url: Annotated[str, Field(min_length=1)] = "sqlite+aiosqlite:///var/fmccert.db"
    # The database password, for URLs that need one, comes from this variable.
    password_env: Annotated[str, Field(pattern=_ENV_NAME)] | None = None


class ConfigModel(_Strict):
    defaults: DefaultsModel = DefaultsModel()
    fmcs: list[FmcModel] = []
    thresholds: ThresholdsModel = ThresholdsModel()
    ssh: SshModel = SshModel()
    slack: SlackModel = SlackModel()
    remediation: RemediationModel = RemediationModel()
    schedule: ScheduleModel = ScheduleModel()
    storage: StorageModel = StorageModel()

    @field_validator("fmcs")
    @classmethod
    def _unique_names(cls, fmcs: list[FmcModel]) -> list[FmcModel]:
        seen: set[str] = set()
        for fmc in fmcs:
            if fmc.name in seen:
                raise ValueError(f"duplicate FMC name {fmc.name!r}")
            seen.add(fmc.name)
        return fmcs


@dataclass(frozen=True, slots=True)
class FmcEntry:
    """One configured FMC with its credentials resolved."""

    target: ProbeTarget
    tags: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.target.name


@dataclass(frozen=True, slots=True)
class SlackSettings:
    """The ``slack:`` section: where alerts go, and who may approve or start scans."""

    alert_channel: str | None = None
    approvers: tuple[str, ...] = ()
    approver_groups: tuple[str, ...] = ()
    command_channels: tuple[str, ...] = ()
    two_person_rule: bool = True
    approval_ttl: timedelta = timedelta(hours=24)  # config: approval_ttl_hours
    # Who may start a fleet scan from Slack; both None: the approvers (ids and groups).
    scan_requesters: tuple[str, ...] | None = None
    scan_requester_groups: tuple[str, ...] | None = None
    scans_per_user_per_hour: int = 6  # 0: no limit


@dataclass(frozen=True, slots=True)
class ScheduledScanSettings:
    """One ``schedule.scans`` entry: scan the FMCs with ``tag`` (all when None) on ``cron``."""

    cron: str
    timezone: str = "UTC"
    tag: str | None = None


@dataclass(frozen=True, slots=True)
class DigestSettings:
    """The ``schedule.digest`` entry: post the fleet digest on ``cron``."""

    cron: str
    timezone: str = "UTC"


@dataclass(frozen=True, slots=True)
class ScheduleSettings:
    """The ``schedule:`` section: scheduled scans, reminders, staleness and the digest."""

    scans: tuple[ScheduledScanSettings, ...] = ()
    renotify: timedelta = timedelta(hours=24)  # config: renotify_hours
    # None: 2 x the shortest period of ``scans`` (config: stale_after_hours).
    stale_after: timedelta | None = None
    digest: DigestSettings | None = None


@dataclass(frozen=True, slots=True)
class AppConfig:
    """The validated configuration, with relative paths resolved and secrets loaded."""

    path: Path
    fmcs: tuple[FmcEntry, ...]
    thresholds: Thresholds
    timeouts: ProbeTimeouts
    concurrency: int
    remediation: RemediationSettings
    storage_url: str  # as written; a relative SQLite path is relative to ``path.parent``
    storage_password: Secret | None
    slack: SlackSettings
    schedule: ScheduleSettings
    # Every slash command asks for the names; a fleet of hundreds makes rebuilding them count.
    _names: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_names", tuple(entry.name for entry in self.fmcs))

    @property
    def base_dir(self) -> Path:
        """The folder relative paths in the config are relative to."""
        return self.path.parent

    def entry(self, name: str) -> FmcEntry:
        """The FMC called ``name``; UsageError when the config has no such FMC."""
        for entry in self.fmcs:
            if entry.name == name:
                return entry
        raise UsageError(f"{name} is not in fmccert's configuration (was it removed?)")

    def names(self) -> tuple[str, ...]:
        """FMC names in config order."""
        return self._names

    def select(self, names: Sequence[str] = (), tag: str | None = None) -> list[FmcEntry]:
        """FMCs by name (in the order asked) or by tag (in config order); all by default."""
        if names:
            by_name = {entry.name: entry for entry in self.fmcs}
            return [by_name[name] for name in names]
        if tag is not None:
            return [entry for entry in self.fmcs if tag in entry.tags]
        return list(self.fmcs)


class _UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that refuses duplicate mapping keys instead of keeping the last."""


def _construct_unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    keys: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in keys:
            line = key_node.start_mark.line + 1
            raise ConfigError(f"line {line}: duplicate key {key!r}")
        keys.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping
)


def resolve_config_path(cli_path: str | None, environ: Mapping[str, str]) -> Path:
    """``--config``, else ``$FMCCERT_CONFIG``, else ``config/fmccert.yaml``."""
    if cli_path:
        return Path(cli_path)
    if environ.get(CONFIG_ENV):
        return Path(environ[CONFIG_ENV])
    return DEFAULT_CONFIG_PATH


def _format_location(location: Sequence[int | str], data: Any) -> str:
    parts: list[str] = []
    node = data
    for item in location:
        if isinstance(item, int):
            name = None
            if isinstance(node, list) and 0 <= item < len(node) and isinstance(node[item], dict):
                name = node[item].get("name")
            parts[-1:] = [f"{parts[-1] if parts else ''}[{name or item}]"]
        else:
            parts.append(str(item))
        try:
            node = node[item]
        except (KeyError, IndexError, TypeError):
            node = None
    return ".".join(parts)


def _describe_validation_error(error: ValidationError, data: Any) -> str:
    first = error.errors()[0]
    where = _format_location(first["loc"], data) or "(top level)"
    message = first["msg"]
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    elif first["type"] == "string_pattern_mismatch" and first["loc"][-1] == "name":
        message = "must match [a-z0-9][a-z0-9._-]*"
    message = message.removeprefix("Value error, ")
    more = len(error.errors()) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{where}: {message}{suffix}"


# A real config is a few levels deep and a few thousand values at most. Aliases share
# one object, so `&a [*b, *b, ...]` chains ("billion laughs") look small in the file but
# expand to billions of values for whoever walks them: count what a walk would visit.
MAX_DEPTH = 64
MAX_VALUES = 100_000


def _check_size(data: Any, source: str) -> None:
    """ConfigError when the document is deeper or (aliases expanded) bigger than any config."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    seen = 0
    while stack:
        node, depth = stack.pop()
        seen += 1
        if seen > MAX_VALUES:
            raise ConfigError(
                f"{source}: the YAML holds more than {MAX_VALUES} values "
                "(aliases expanded); is it an alias bomb?"
            )
        if depth > MAX_DEPTH:
            raise ConfigError(f"{source}: the YAML is nested more than {MAX_DEPTH} levels deep")
        if isinstance(node, dict):
            stack.extend((child, depth + 1) for child in node.values())
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node)


def parse_config_text(text: str, *, source: str = "<config>") -> ConfigModel:
    """Parse and validate YAML text into the config model (no environment access)."""
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    except RecursionError:
        # PyYAML composes nodes recursively: thousands of nested [ or { exhaust the stack.
        raise ConfigError(f"{source}: the YAML is nested too deeply") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise ConfigError(f"{source}: {where}{problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of sections")
    _check_size(data, source)
    try:
        return ConfigModel.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {_describe_validation_error(exc, data)}") from None


def _rest_target(
    fmc: FmcModel, defaults: DefaultsModel, base: Path, environ: Mapping[str, str], source: str
) -> RestTarget | None:
    """The REST side of an FMC whose access uses REST (its keys over the defaults')."""
    access = fmc.access or defaults.access
    kind = fmc.kind or defaults.kind
    where = f"fmcs[{fmc.name}]"
    if not access.uses_rest:
        return None
    if kind is not DeviceKind.FMC:
        raise ConfigError(
            f"{source}: {where}.access: {access.value} reads the FMC REST API, which an "
            f"{kind.label} does not have; read it with access: ssh"
        )
    own = fmc.rest or RestModel()
    merged = {
        key: getattr(own, key) if getattr(own, key) is not None else getattr(defaults.rest, key)
        for key in RestModel.model_fields
    }
    if own.password_env or own.password_file:  # an FMC's own secret wins, as for SSH
        merged["password_env"], merged["password_file"] = own.password_env, own.password_file
    if not merged["username"] or not (merged["password_env"] or merged["password_file"]):
        raise ConfigError(
            f"{source}: {where}.rest: access: {access.value} needs rest.username and "
            "rest.password_env or rest.password_file (here or under defaults.rest)"
        )
    password = _secret_from(
        merged["password_env"], merged["password_file"], base, environ, source,
        where=f"{where}.rest", fmc=fmc.name,
    )  # fmt: skip
    ca_file = base / merged["ca_file"] if merged["ca_file"] else None
    if ca_file is not None and not ca_file.is_file():
        raise ConfigError(f"{source}: {where}.rest.ca_file: no such file {ca_file}")
    return RestTarget(
        host=fmc.host,
        port=merged["port"] or 443,
        username=merged["username"],
        password=password,
        ca_file=ca_file,
        insecure_skip_verify=bool(merged["insecure_skip_verify"]),
        requests_per_minute=merged["requests_per_minute"] or 120,
    )


def _read_password(
    fmc: FmcModel, defaults: DefaultsModel, base: Path, environ: Mapping[str, str], source: str
) -> Secret:
    # An FMC's own setting wins; between env and file, the one set on the FMC wins.
    if fmc.password_env or fmc.password_file:
        env_name, file_name = fmc.password_env, fmc.password_file
        where = f"fmcs[{fmc.name}]"
    else:
        env_name, file_name = defaults.password_env, defaults.password_file
        where = "defaults"
        if file_name:
            env_name = None  # a defaults password_file replaces the default variable name
    return _secret_from(env_name, file_name, base, environ, source, where=where, fmc=fmc.name)


def _secret_from(
    env_name: str | None,
    file_name: str | None,
    base: Path,
    environ: Mapping[str, str],
    source: str,
    *,
    where: str,
    fmc: str,
) -> Secret:
    """A password from an environment variable or a file; ConfigError naming the key."""
    if env_name:
        value = environ.get(env_name)
        if value is None:
            raise ConfigError(
                f"{source}: {where}.password_env: environment variable {env_name} is not set "
                f"(needed for FMC {fmc!r})"
            )
        if not value:
            raise ConfigError(f"{source}: environment variable {env_name} is empty")
        return Secret(value)
    if file_name:
        path = base / file_name
        try:
            value = path.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise ConfigError(
                f"{source}: {where}.password_file: cannot read {path} ({exc.strerror})"
            ) from None
        if not value:
            raise ConfigError(f"{source}: {where}.password_file: {path} is empty")
        return Secret(value)
    raise ConfigError(f"{source}: FMC {fmc!r} has no password_env or password_file")


def build_app_config(model: ConfigModel, path: Path, environ: Mapping[str, str]) -> AppConfig:
    """Resolve relative paths against the file's folder and read every password."""
    source = str(path)
    base = path.parent
    defaults = model.defaults
    entries: list[FmcEntry] = []
    for fmc in model.fmcs:
        target = ProbeTarget(
            name=fmc.name,
            host=fmc.host,
            port=fmc.port,
            username=fmc.username or defaults.username,
            # A REST-only FMC is read by an API user: no SSH password is needed or read.
            password=(
                _read_password(fmc, defaults, base, environ, source)
                if (fmc.access or defaults.access).uses_ssh
                else Secret("")
            ),
            known_hosts=base / (fmc.known_hosts or defaults.known_hosts),
            cert_path=fmc.cert_path or defaults.cert_path,
            kind=fmc.kind or defaults.kind,
            access=fmc.access or defaults.access,
            rest=_rest_target(fmc, defaults, base, environ, source),
        )
        entries.append(FmcEntry(target=target, tags=tuple(fmc.tags)))
    return AppConfig(
        path=path,
        fmcs=tuple(entries),
        thresholds=Thresholds(model.thresholds.warning_days, model.thresholds.critical_days),
        timeouts=ProbeTimeouts(
            connect=model.ssh.connect_timeout,
            command=model.ssh.command_timeout,
            host=model.ssh.host_timeout,
        ),
        concurrency=model.ssh.concurrency,
        remediation=build_remediation_settings(model.remediation, base),
        storage_url=model.storage.url,
        storage_password=_storage_password(model.storage, environ, source),
        slack=build_slack_settings(model.slack),
        schedule=build_schedule_settings(model.schedule),
    )


def _storage_password(
    model: StorageModel, environ: Mapping[str, str], source: str
) -> Secret | None:
    if model.password_env is None:
        return None
    value = environ.get(model.password_env)
    if not value:
        raise ConfigError(
            f"{source}: storage.password_env: environment variable {model.password_env} is not set"
        )
    return Secret(value)


def _optional_tuple(values: list[str] | None) -> tuple[str, ...] | None:
    return None if values is None else tuple(values)


def build_slack_settings(model: SlackModel) -> SlackSettings:
    """The ``slack:`` section as a typed record (hours become timedeltas)."""
    return SlackSettings(
        alert_channel=model.alert_channel,
        approvers=tuple(model.approvers),
        approver_groups=tuple(model.approver_groups),
        command_channels=tuple(model.command_channels),
        two_person_rule=model.two_person_rule,
        approval_ttl=timedelta(hours=model.approval_ttl_hours),
        scan_requesters=_optional_tuple(model.scan_requesters),
        scan_requester_groups=_optional_tuple(model.scan_requester_groups),
        scans_per_user_per_hour=model.scans_per_user_per_hour,
    )


def build_schedule_settings(model: ScheduleModel) -> ScheduleSettings:
    """The ``schedule:`` section as a typed record (hours become timedeltas)."""
    digest = model.digest
    return ScheduleSettings(
        scans=tuple(
            ScheduledScanSettings(cron=scan.cron, timezone=scan.timezone, tag=scan.tag)
            for scan in model.scans
        ),
        renotify=timedelta(hours=model.renotify_hours),
        stale_after=(
            None if model.stale_after_hours is None else timedelta(hours=model.stale_after_hours)
        ),
        digest=None if digest is None else DigestSettings(digest.cron, digest.timezone),
    )


def build_remediation_settings(model: RemediationModel, base: Path) -> RemediationSettings:
    """The remediation section with the package path resolved against the config folder."""
    return RemediationSettings(
        vdb_package=base / model.vdb_package if model.vdb_package else None,
        vdb_install_timeout=model.vdb_install_timeout_minutes * 60,
        restart_command=model.restart_command,
        updates_dir=model.updates_dir.rstrip("/") or "/",
        vdb_poll_interval=model.vdb_poll_interval_seconds,
        min_free_mb=model.min_free_mb,
        verify_wait=model.verify_wait_seconds,
        step_overrides={
            name: StepOverride(command=step.command, timeout=step.timeout)
            for name, step in model.steps.items()
        },
    )


def read_config_model(path: Path) -> ConfigModel:
    """Read and validate the file without touching the environment or any secret."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"config file {path} not found (use --config or $FMCCERT_CONFIG)"
        ) from None
    except IsADirectoryError:
        raise ConfigError(f"config path {path} is a directory, not a file") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text") from None
    return parse_config_text(text, source=str(path))


def load_config(path: Path, environ: Mapping[str, str] | None = None) -> AppConfig:
    """Read, validate and resolve the config file; every problem is one ConfigError."""
    env = os.environ if environ is None else environ
    return build_app_config(read_config_model(path), path, env)


@dataclass(frozen=True, slots=True)
class HostKeyTarget:
    """Where an FMC's SSH server is and which known_hosts file vouches for it."""

    name: str
    host: str
    port: int
    known_hosts: Path


def host_key_targets(model: ConfigModel, path: Path) -> dict[str, HostKeyTarget]:
    """Every FMC's address and known_hosts file; needs no password (for `trust`)."""
    return {
        fmc.name: HostKeyTarget(
            name=fmc.name,
            host=fmc.host,
            port=fmc.port,
            known_hosts=path.parent / (fmc.known_hosts or model.defaults.known_hosts),
        )
        for fmc in model.fmcs
    }
