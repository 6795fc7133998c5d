"""The deploy kit (deploy/), checked offline by real validators.

- Helm chart: rendered and linted by Helm v4's own Go SDK (``helm-python-sdk``), then every
  rendered manifest validated by ``kubernetes-validate --strict`` against the Kubernetes
  OpenAPI schemas it bundles (no cluster; a CRD such as ServiceMonitor has no schema there).
- compose.yaml: ``check-jsonschema`` with the Compose Specification schema it ships, and
  ``docker compose config`` (v2) or else Debian's ``docker-compose config`` (v1).
- systemd unit: ``systemd-analyze verify`` in a scratch root, and ``systemd-analyze
  security --offline`` for its exposure score.

A validator that is missing skips its test and says why; with ``CI`` set it fails instead.
The fmccert config files the kit ships are read by the bot's own config parser.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot import __version__
from bot.config import ConfigModel, parse_config_text
from tests.deploy import helm_tool

ROOT = Path(__file__).resolve().parent.parent.parent
DEPLOY = ROOT / "deploy"
CHART = DEPLOY / "helm" / "fmccert"
COMPOSE = DEPLOY / "compose.yaml"
UNIT = DEPLOY / "systemd" / "fmccert.service"
K8S_VERSION = "1.30.0"  # the oldest Kubernetes the chart supports


def missing(message: str) -> None:
    """Skip locally; under CI a validator that is not there is a failure."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def venv_tool(name: str, how: str) -> str:
    """A console script installed beside this Python (the dev extra), else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        missing(f"{name} is missing ({how})")
        raise AssertionError("unreachable")  # missing() always raises
    return found


def run(*argv: str, cwd: Path = ROOT, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, check=False, cwd=cwd
    )


# --- Helm ------------------------------------------------------------------------------


@cache
def _helm_problem() -> str | None:
    return helm_tool.available()


@pytest.fixture
def helm() -> None:
    problem = _helm_problem()
    if problem is not None:
        missing(f"{problem} (pip install -e '.[dev]')")


def documents(rendered: dict[str, str]) -> list[dict[str, Any]]:
    """Every Kubernetes object of a render (NOTES.txt and empty templates left out)."""
    objects: list[dict[str, Any]] = []
    for path, text in sorted(rendered.items()):
        if path.endswith("NOTES.txt"):
            continue
        objects.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return objects


def only(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [obj for obj in objects if obj["kind"] == kind]
    assert len(found) == 1, f"{len(found)} objects of kind {kind}"
    return found[0]


def container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    containers = only(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    result: dict[str, Any] = containers[0]
    return result


def env_refs(box: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Environment variable -> (Secret name, key) for the secretKeyRef entries."""
    refs: dict[str, tuple[str, str]] = {}
    for entry in box.get("env", []):
        ref = entry.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            refs[entry["name"]] = (ref["name"], ref["key"])
    return refs


@pytest.mark.usefixtures("helm")
@pytest.mark.parametrize(
    "values",
    [
        {},
        {"serviceMonitor": {"enabled": True}, "ingress": {"enabled": True}},
        {"secrets": {"existingSecret": "fmccert-credentials"}, "slack": {"socketMode": True}},
    ],
    ids=["defaults", "monitor-and-ingress", "existing-secret-socket-mode"],
)
def test_helm_lint_strict_finds_nothing(values: dict[str, Any]) -> None:
    """`helm lint --strict`: no warning and no error, whatever the options."""
    report = helm_tool.lint(CHART, values)
    assert report["total_charts_linted"] == 1
    assert report["errors"] == []
    serious = [m for m in report["messages"] if m["severity"] >= 2]  # 2 warning, 3 error
    assert serious == [], serious


@pytest.mark.usefixtures("helm")
def test_helm_lint_catches_a_broken_template(tmp_path: Path) -> None:
    """The linter is real: a template that does not parse is an error."""
    chart = tmp_path / "fmccert"
    shutil.copytree(CHART, chart)
    (chart / "templates" / "broken.yaml").write_text("{{ if .Values.replicaCount }}\n")
    report = helm_tool.lint(chart)
    assert any(m["severity"] == 3 for m in report["messages"]), report


@pytest.mark.usefixtures("helm")
def test_helm_template_defaults() -> None:
    """Two replicas, probes on /healthz, non-root and read-only, secrets from the Secret."""
    rendered = helm_tool.template(CHART)
    objects = documents(rendered)
    kinds = sorted(obj["kind"] for obj in objects)
    assert kinds == [
        "ConfigMap", "Deployment", "PodDisruptionBudget", "Secret", "Service", "ServiceAccount",
    ]  # fmt: skip
    deployment = only(objects, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    box = container(objects)
    assert box["args"][:1] == ["run"]
    assert box["args"][box["args"].index("--port") + 1] == "3000"
    assert box["args"][box["args"].index("--host") + 1] == "0.0.0.0"
    assert [p["containerPort"] for p in box["ports"] if p["name"] == "http"] == [3000]
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert box[probe]["httpGet"] == {"path": "/healthz", "port": "http"}, probe
    startup = box["startupProbe"]
    # Migrations may take minutes: liveness must not restart a pod before it could listen.
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 600
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert box["securityContext"]["readOnlyRootFilesystem"] is True
    assert box["securityContext"]["allowPrivilegeEscalation"] is False
    assert box["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert "/tmp" in {mount["mountPath"] for mount in box["volumeMounts"]}
    assert box["resources"]["limits"]["memory"]

    secret = only(objects, "Secret")
    refs = env_refs(box)
    assert refs == {
        "SLACK_BOT_TOKEN": (secret["metadata"]["name"], "slack-bot-token"),
        "SLACK_SIGNING_SECRET": (secret["metadata"]["name"], "slack-signing-secret"),
        "FMCCERT_DB_PASSWORD": (secret["metadata"]["name"], "db-password"),
    }  # HTTP mode by default: the signing secret, no app token
    assert set(secret["data"]) >= {"slack-bot-token", "slack-signing-secret", "db-password"}

    service = only(objects, "Service")
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 3000, "targetPort": "http", "protocol": "TCP"}
    ]
    assert service["spec"]["selector"].items() <= pod_labels(deployment).items()
    assert "ServiceMonitor" not in kinds


def test_chart_app_version_is_this_build() -> None:
    """The chart deploys the image of this version (its default tag is appVersion)."""
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text(encoding="utf-8"))
    assert chart["apiVersion"] == "v2"
    assert chart["appVersion"] == __version__


def pod_labels(deployment: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = deployment["spec"]["template"]["metadata"]["labels"]
    return labels


@pytest.mark.usefixtures("helm")
def test_helm_configmap_holds_a_config_this_build_accepts() -> None:
    """The ConfigMap's fmccert.yaml passes the bot's own validation, on PostgreSQL."""
    objects = documents(helm_tool.template(CHART))
    configmap = only(objects, "ConfigMap")
    model = parse_config_text(configmap["data"]["fmccert.yaml"], source="configmap")
    assert model.storage.url.startswith("postgresql+asyncpg://")
    assert model.storage.password_env == "FMCCERT_DB_PASSWORD"
    # The FMC password file is the Secret's key, mounted where the config says.
    box = container(objects)
    deployment = only(objects, "Deployment")
    mounts = {m["name"]: m["mountPath"] for m in box["volumeMounts"]}
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert model.defaults.password_file == f"{mounts['secrets']}/fmc-password"
    assert volumes["secrets"]["secret"]["items"] == [
        {"key": "fmc-password", "path": "fmc-password"}
    ]
    assert mounts["config"] == "/app/config"
    assert box["args"][box["args"].index("--config") + 1] == "/app/config/fmccert.yaml"
    assert "known_hosts" in configmap["data"]


@pytest.mark.usefixtures("helm")
def test_helm_service_monitor_only_when_enabled() -> None:
    """serviceMonitor.enabled renders a ServiceMonitor scraping /metrics of the Service."""
    objects = documents(helm_tool.template(CHART, {"serviceMonitor": {"enabled": True}}))
    monitor = only(objects, "ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    assert monitor["spec"]["endpoints"][0]["port"] == "http"
    service_labels = only(objects, "Service")["metadata"]["labels"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service_labels.items()
    assert monitor["spec"]["namespaceSelector"]["matchNames"] == [helm_tool.NAMESPACE]


@pytest.mark.usefixtures("helm")
def test_helm_existing_secret_and_socket_mode() -> None:
    """With existingSecret the chart makes no Secret; Socket Mode takes the app token."""
    objects = documents(
        helm_tool.template(
            CHART,
            {"secrets": {"existingSecret": "fmccert-credentials"}, "slack": {"socketMode": True}},
        )
    )
    assert not [obj for obj in objects if obj["kind"] == "Secret"]
    refs = env_refs(container(objects))
    assert refs["SLACK_APP_TOKEN"] == ("fmccert-credentials", "slack-app-token")
    assert "SLACK_SIGNING_SECRET" not in refs
    assert {name for name, _ in refs.values()} == {"fmccert-credentials"}


def kubernetes_validate(path: Path) -> subprocess.CompletedProcess[str]:
    tool = venv_tool("kubernetes-validate", "pip install -e '.[dev]'")
    return run(tool, "--strict", "-k", K8S_VERSION, str(path))


@pytest.mark.usefixtures("helm")
def test_rendered_chart_matches_kubernetes_schemas(tmp_path: Path) -> None:
    """Every rendered object, with every option on, is valid for Kubernetes (strict)."""
    values = {
        "serviceMonitor": {"enabled": True},
        "ingress": {"enabled": True, "tls": [{"hosts": ["fmccert.example.net"]}]},
    }
    for name, options in {"defaults": {}, "all": values}.items():
        objects = documents(helm_tool.template(CHART, options))
        manifest = tmp_path / f"{name}.yaml"
        manifest.write_text(yaml.safe_dump_all(objects), encoding="utf-8")
        result = kubernetes_validate(manifest)
        assert result.returncode == 0, result.stdout + result.stderr
        output = result.stdout + result.stderr
        for obj in objects:
            if obj["kind"] == "ServiceMonitor":  # a CRD: no schema is bundled, said plainly
                assert "Couldn't find schema for kind ServiceMonitor" in output
                continue
            assert f"passed for resource {obj['kind'].lower()}/" in output, obj["kind"]


def test_kubernetes_validate_rejects_a_misspelt_probe(tmp_path: Path) -> None:
    """The schema check is real and strict: an unknown field in a probe fails it."""
    broken = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "x"},
        "spec": {
            "containers": [
                {"name": "x", "image": "x", "livenessProbe": {"httpGett": {"path": "/healthz"}}}
            ]
        },
    }
    manifest = tmp_path / "broken.yaml"
    manifest.write_text(yaml.safe_dump(broken), encoding="utf-8")
    result = kubernetes_validate(manifest)
    assert result.returncode != 0
    assert "httpGett" in result.stdout + result.stderr


# --- Docker Compose --------------------------------------------------------------------


def compose_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return data


def check_jsonschema(path: Path) -> subprocess.CompletedProcess[str]:
    tool = venv_tool("check-jsonschema", "pip install -e '.[dev]'")
    return run(tool, "--builtin-schema", "vendor.compose-spec", str(path))


def test_compose_matches_the_compose_specification(tmp_path: Path) -> None:
    """check-jsonschema with the Compose Specification schema; a typo would fail it."""
    result = check_jsonschema(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr
    broken = compose_data()
    broken["services"]["bot"]["healthchek"] = broken["services"]["bot"].pop("healthcheck")
    typo = tmp_path / "compose.yaml"
    typo.write_text(yaml.safe_dump(broken), encoding="utf-8")
    result = check_jsonschema(typo)
    assert result.returncode != 0
    assert "healthchek" in result.stdout + result.stderr


def compose_command() -> list[str]:
    """`docker compose` (v2 plugin) when it works here, else Debian's `docker-compose`."""
    docker = shutil.which("docker")
    if docker is not None and run(docker, "compose", "version").returncode == 0:
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    if legacy is None:
        missing(
            "neither `docker compose` nor `docker-compose` is installed "
            "(Debian: docker-compose; scripts/check.sh installs it as root)"
        )
        raise AssertionError("unreachable")
    return [legacy]


def test_compose_config_resolves(tmp_path: Path) -> None:
    """`docker compose config` reads the file as Compose does: paths, interpolation, schema."""
    result = run(
        *compose_command(), "--project-directory", str(DEPLOY), "-f", str(COMPOSE), "config"
    )
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)
    bot, postgres = resolved["services"]["bot"], resolved["services"]["postgres"]
    assert Path(bot["build"]["context"]) == ROOT
    assert (ROOT / bot["build"]["dockerfile"]).is_file()
    assert bot["healthcheck"]["test"]
    assert postgres["healthcheck"]["test"]
    assert bot["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name, secret in resolved["secrets"].items():
        assert Path(secret["file"]) == DEPLOY / "secrets" / name
    for volume in bot["volumes"]:
        source = volume["source"] if isinstance(volume, dict) else volume.split(":")[0]
        assert Path(source).is_file(), source  # mounted files the kit ships


def test_compose_services_health_secrets_and_config() -> None:
    """Both services have healthchecks; every secret is a file; the bot runs HTTP on 3000."""
    data = compose_data()
    bot, postgres = data["services"]["bot"], data["services"]["postgres"]
    assert re.fullmatch(r"postgres:16(\.\d+)*(-\S+)?", postgres["image"])
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert postgres["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/db_password"
    probe = " ".join(bot["healthcheck"]["test"])
    assert "http://127.0.0.1:3000/healthz" in probe
    assert bot["healthcheck"]["start_period"]  # migrations run before the bot listens
    assert bot["deploy"]["replicas"] == 2
    assert set(data["secrets"]) == {
        "slack_bot_token", "slack_signing_secret", "db_password", "fmc_password",
    }  # fmt: skip
    assert all(set(secret) == {"file"} for secret in data["secrets"].values())
    assert set(bot["secrets"]) == set(data["secrets"])
    assert "environment" not in bot or not any(
        "TOKEN" in key or "SECRET" in key or "PASSWORD" in key for key in bot["environment"]
    )  # secrets never sit in the file as environment entries
    script = bot["entrypoint"][-1]
    assert "fmccert run --host 0.0.0.0 --port 3000 --config /app/config/fmccert.yaml" in script
    mounts = {m.split(":")[1]: DEPLOY / m.split(":")[0] for m in bot["volumes"]}
    config = config_model(mounts["/app/config/fmccert.yaml"])
    host = re.search(r"@([^:/]+)", config.storage.url)
    assert host is not None
    assert host.group(1) in data["services"]  # storage.url names the postgres service
    assert config.defaults.password_file == "/run/secrets/fmc_password"


def config_model(path: Path) -> ConfigModel:
    """The bot's own validation of a shipped config (no secret is read)."""
    return parse_config_text(path.read_text(encoding="utf-8"), source=str(path))


@pytest.fixture
def fake_fmccert(tmp_path: Path) -> Path:
    """A stand-in `fmccert` on PATH that records its arguments and environment."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "record.json"
    stub = bin_dir / "fmccert"
    stub.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        "record = {'argv': sys.argv[1:], 'env': dict(os.environ)}\n"
        f"json.dump(record, open({str(record)!r}, 'w'))\n",
        encoding="utf-8",
    )
    stub.chmod(0o755)
    return record


def test_compose_bot_command_exports_the_secret_files(tmp_path: Path, fake_fmccert: Path) -> None:
    """The bot's shell line, as Compose hands it over, exports each secret file's content."""
    bot = compose_data()["services"]["bot"]
    shell, flag, script = bot["entrypoint"]
    assert (shell, flag) == ("/bin/sh", "-c")
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    values = {name: f"value-of-{name}" for name in bot["secrets"]}
    for name, value in values.items():
        (secrets / name).write_text(value, encoding="utf-8")
    # Compose turns `$$` into `$`; the files are where Compose mounts them, moved here.
    command = script.replace("$$", "$").replace("/run/secrets/", f"{secrets}/")
    env = {"PATH": f"{fake_fmccert.parent / 'bin'}:/usr/bin:/bin"}
    result = subprocess.run(
        ["/bin/sh", "-c", command], env=env, capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(fake_fmccert.read_text(encoding="utf-8"))
    assert seen["argv"] == [
        "run", "--host", "0.0.0.0", "--port", "3000", "--config", "/app/config/fmccert.yaml",
    ]  # fmt: skip
    assert seen["env"]["SLACK_BOT_TOKEN"] == values["slack_bot_token"]
    assert seen["env"]["SLACK_SIGNING_SECRET"] == values["slack_signing_secret"]
    assert seen["env"]["FMCCERT_DB_PASSWORD"] == values["db_password"]


def test_example_production_config_is_valid() -> None:
    """deploy/fmccert.yaml passes the bot's validation and uses PostgreSQL."""
    model = config_model(DEPLOY / "fmccert.yaml")
    assert model.storage.url.startswith("postgresql+asyncpg://")
    assert model.storage.password_env == "FMCCERT_DB_PASSWORD"
    assert ":" not in model.storage.url.split("//", 1)[1].split("@", 1)[0]  # no password


# --- systemd ---------------------------------------------------------------------------


def systemd_analyze() -> str:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        missing("systemd-analyze is missing (Debian: systemd)")
        raise AssertionError("unreachable")
    return tool


def scratch_root(tmp_path: Path, unit_text: str) -> Path:
    """A root holding the unit, the system's own units, and an executable at ExecStart."""
    root = tmp_path / "root"
    units = root / "etc" / "systemd" / "system"
    units.mkdir(parents=True)
    (units / "fmccert.service").write_text(unit_text, encoding="utf-8")
    system_units = Path("/usr/lib/systemd/system")
    if not system_units.is_dir():
        missing("/usr/lib/systemd/system is missing (Debian: systemd)")
    shutil.copytree(system_units, root / "usr" / "lib" / "systemd" / "system", symlinks=True)
    exec_start = unit_values(unit_text)["ExecStart"][0].split()[0]
    program = root / exec_start.lstrip("/")
    program.parent.mkdir(parents=True)
    program.write_text("#!/bin/sh\n", encoding="utf-8")
    program.chmod(0o755)
    return root


def unit_values(text: str) -> dict[str, list[str]]:
    """Every Key=value of a unit file (repeated keys keep every value)."""
    values: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        values.setdefault(key, []).append(value)
    return values


def verify(tmp_path: Path, unit_text: str) -> subprocess.CompletedProcess[str]:
    root = scratch_root(tmp_path, unit_text)
    return run(systemd_analyze(), "verify", f"--root={root}", "fmccert.service")


def test_systemd_unit_verifies_cleanly(tmp_path: Path) -> None:
    """systemd-analyze verify: exit 0 and not one warning (unknown keys, bad values)."""
    result = verify(tmp_path, UNIT.read_text(encoding="utf-8"))
    assert result.returncode == 0, result.stderr
    assert result.stdout + result.stderr == ""


def test_systemd_verify_reports_a_typo(tmp_path: Path) -> None:
    """The check is real: a misspelt key is reported (as a warning, which the test counts)."""
    text = UNIT.read_text(encoding="utf-8").replace("ProtectSystem=", "ProtectSytem=")
    result = verify(tmp_path, text)
    assert "ProtectSytem" in result.stdout + result.stderr


def test_systemd_unit_is_hardened(tmp_path: Path) -> None:
    """systemd-analyze security --offline rates the unit's exposure at most 2.0 ("OK")."""
    root = scratch_root(tmp_path, UNIT.read_text(encoding="utf-8"))
    # --threshold is on the internal 0-100 scale: 20 is the 2.0 that the tool prints.
    result = run(
        systemd_analyze(), "security", "--offline=yes", f"--root={root}", "--threshold=20",
        "--no-pager", "fmccert.service",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    level = re.search(r"Overall exposure level for fmccert\.service: (\d+\.\d+)", result.stdout)
    assert level is not None, result.stdout
    assert float(level.group(1)) <= 2.0, result.stdout


def test_systemd_unit_settings() -> None:
    """The user, the command, restarts, the hardening asked for and the state directory."""
    values = unit_values(UNIT.read_text(encoding="utf-8"))
    assert values["User"] == ["fmccert"]
    assert values["ExecStart"][0].startswith(
        "/opt/fmccert/.venv/bin/fmccert run --config /etc/fmccert/fmccert.yaml"
    )
    assert values["Restart"] == ["on-failure"]
    assert values["NoNewPrivileges"] == ["yes"]
    assert values["ProtectSystem"] == ["strict"]
    assert values["ReadWritePaths"] == ["/var/lib/fmccert"]
    assert values["StateDirectory"] == ["fmccert"]
    assert values["EnvironmentFile"] == ["/etc/fmccert/fmccert.env"]
    assert values["LoadCredential"] == ["fmc_password:/etc/fmccert/credentials/fmc_password"]
