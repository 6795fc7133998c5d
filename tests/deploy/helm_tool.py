"""`helm template` and `helm lint` for the tests, through Helm's own Go SDK.

No `helm` binary is installable here (neither Debian nor PyPI ships one for Linux), but
PyPI's ``helm-python-sdk`` bundles ``libhelm_c``, a C ABI over Helm v4's official Go SDK:
the same chart loader, template engine and linter as the `helm` command. This module runs
it in a child process (``python -m tests.deploy.helm_tool``) so that the Go runtime never
lives inside the pytest process, whose other tests fork and handle signals.

    python -m tests.deploy.helm_tool template CHART [VALUES_JSON]   -> {"template": "manifest"}
    python -m tests.deploy.helm_tool lint CHART [VALUES_JSON]       -> the lint report
    python -m tests.deploy.helm_tool version                        -> the Helm SDK version
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

RELEASE = "fmccert"
NAMESPACE = "chatops"


def available() -> str | None:
    """Why the SDK cannot be used here, or None when it can."""
    result = subprocess.run(
        [sys.executable, "-m", "tests.deploy.helm_tool", "version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=Path(__file__).resolve().parent.parent.parent,
    )
    if result.returncode != 0:
        return (
            "helm-python-sdk (Helm's Go SDK) is not usable: "
            f"{result.stderr.strip().splitlines()[-1:] or result.returncode}"
        )
    return None


def _call(verb: str, chart: Path, values: dict[str, Any] | None) -> Any:
    argv = [sys.executable, "-m", "tests.deploy.helm_tool", verb, str(chart)]
    result = subprocess.run(
        [*argv, json.dumps(values or {})],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=Path(__file__).resolve().parent.parent.parent,
    )
    if result.returncode != 0:
        raise AssertionError(f"helm {verb} failed: {result.stderr.strip()}")
    return json.loads(result.stdout)


def template(chart: Path, values: dict[str, Any] | None = None) -> dict[str, str]:
    """`helm template fmccert CHART --namespace chatops`: rendered text by template path."""
    rendered: dict[str, str] = _call("template", chart, values)
    return rendered


def lint(chart: Path, values: dict[str, Any] | None = None) -> dict[str, Any]:
    """`helm lint --strict CHART`: ``{"messages": [{"severity", "path", "error"}], ...}``."""
    report: dict[str, Any] = _call("lint", chart, values)
    return report


def _main(argv: list[str]) -> int:
    import helm_python as helm

    if argv[:1] == ["version"]:
        print(helm.helm_sdk_version())
        return 0
    verb, chart = argv[0], argv[1]
    values = json.loads(argv[2]) if len(argv) > 2 else {}
    if verb == "template":
        with helm.Chart.load(chart) as loaded:
            rendered = loaded.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
        print(json.dumps(rendered))
        return 0
    if verb == "lint":
        print(json.dumps(helm.lint(chart, values, strict=True, namespace=NAMESPACE)))
        return 0
    print(f"unknown verb {verb!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
