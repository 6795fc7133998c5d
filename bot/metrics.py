"""Prometheus metrics of the bot, served at ``GET /metrics`` in the text format.

Names follow x509-certificate-exporter and the common exporters' conventions (base
units, ``_seconds`` timestamps, ``_total`` counters):

The per-FMC gauges also carry ``kind`` (``fmc``, or ``ftd`` for an FTD managed by FDM,
field notice FN74284); the series names are unchanged, so rules keyed on ``fmc`` keep
working. A device whose kind changes in the config loses its series of the old kind.

``fmccert_certificate_not_after_seconds{fmc,kind}``
    Expiry of the FMC's Talos client certificate as a Unix timestamp; absent while the
    FMC's latest check read no certificate.
``fmccert_status{fmc,kind,status}``
    1 for the FMC's current status (ok, warning, critical, expired, unknown), 0 for the
    other four.
``fmccert_last_successful_check_timestamp_seconds{fmc,kind}``
    When a check last read the FMC's certificate; 0 for an FMC of the config that no check
    has read yet, so a "not checked for too long" rule fires for it too.
``fmccert_affected{fmc,kind}``
    1 when the FMC's latest check found a release affected by CSCwo63951 (7.6.0, 7.7.0), 0
    for any other release; absent while the release is unknown (the latest check could not
    read it), like the expiry, rather than a made-up value.
``fmccert_scan_duration_seconds`` (histogram)
    How long each recorded scan or check took.
``fmccert_scans_total{kind}``
    Recorded scans by kind (``scan``, ``check``, ``scheduled-scan``).
``fmccert_remediations_total{action,outcome}``
    Finished remediations; outcome is renewed, not_renewed, failed or interrupted.
``fmccert_approvals_total{decision}``
    Approval clicks: approved, denied, or refused (a click the rules turned down).
``fmccert_slack_api_errors_total{method,error}``
    Slack Web API calls that failed, by method and Slack's error code.
``fmccert_slack_delivery_failures_total{what}``
    Messages fmccert could not deliver after retries: ``incident-edit``, ``incident-note``,
    ``incident-repost``, ``request-closed``... (each is also logged with its FMC).

Every bot has its own :class:`prometheus_client.CollectorRegistry`, so several bots (in
tests) never share series. At start the per-FMC gauges are seeded from the store and the
config's FMC names, so the page is right after a restart, before the next scan.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from bot.core.expiry import Status
from bot.core.findings import Finding
from bot.scanning import ScanReport
from bot.storage.records import StoredFinding

if TYPE_CHECKING:  # annotations only: metrics needs nothing else of the application layer
    from bot.operations.ports import Store

CONTENT_TYPE = CONTENT_TYPE_LATEST
SCAN_BUCKETS = (1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
APPROVAL_DECISIONS = ("approved", "denied", "refused")


DEFAULT_KIND = "fmc"  # records and configs from before device kinds are FMCs


def _set_or_remove(gauge: Gauge, fmc: str, kind: str, value: float | None) -> None:
    """Set ``gauge{fmc,kind}``, or remove it while the value is unknown."""
    if value is None:
        with contextlib.suppress(KeyError):  # it was never set
            gauge.remove(fmc, kind)
    else:
        gauge.labels(fmc=fmc, kind=kind).set(value)


def _stored_kind(stored: StoredFinding) -> str | None:
    kind = stored.data.get("kind")
    return kind if isinstance(kind, str) and kind else None


class Metrics:
    """The bot's series, in a registry of its own; observe_* methods feed them."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.not_after = Gauge(
            "fmccert_certificate_not_after_seconds",
            "Expiry of the FMC's Talos client certificate (Unix time)",
            ["fmc", "kind"],
            registry=r,
        )
        self.status = Gauge(
            "fmccert_status", "1 for the FMC's current certificate status",
            ["fmc", "kind", "status"], registry=r,
        )  # fmt: skip
        self.last_success = Gauge(
            "fmccert_last_successful_check_timestamp_seconds",
            "When a check last read the FMC's certificate (Unix time)",
            ["fmc", "kind"],
            registry=r,
        )
        self.affected = Gauge(
            "fmccert_affected",
            "1 if the FMC's release is affected by CSCwo63951, 0 if not (absent: unknown)",
            ["fmc", "kind"],
            registry=r,
        )
        self.scan_duration = Histogram(
            "fmccert_scan_duration_seconds", "Duration of recorded scans", buckets=SCAN_BUCKETS,
            registry=r,
        )  # fmt: skip
        self.scans = Counter("fmccert_scans", "Recorded scans by kind", ["kind"], registry=r)
        self.remediations = Counter(
            "fmccert_remediations", "Finished remediations", ["action", "outcome"], registry=r
        )
        self.approvals = Counter(
            "fmccert_approvals", "Approval clicks by decision", ["decision"], registry=r
        )
        self.slack_errors = Counter(
            "fmccert_slack_api_errors", "Failed Slack Web API calls", ["method", "error"],
            registry=r,
        )  # fmt: skip
        self.delivery_failures = Counter(
            "fmccert_slack_delivery_failures",
            "Slack messages fmccert could not post or edit (after retries), by what they were",
            ["what"],
            registry=r,
        )
        for decision in APPROVAL_DECISIONS:
            self.approvals.labels(decision=decision)
        self._kinds: dict[str, str] = {}  # each FMC's kind as last exported
        self._last_read: dict[str, float] = {}  # each FMC's last successful check, if any

    def _kind(self, fmc: str, kind: str | None) -> str:
        """``fmc``'s kind from now on; a change drops its series of the old kind."""
        old = self._kinds.get(fmc)
        new = kind or old or DEFAULT_KIND
        if old is not None and old != new:
            for gauge in (self.not_after, self.last_success, self.affected):
                with contextlib.suppress(KeyError):
                    gauge.remove(fmc, old)
            for each in Status:
                with contextlib.suppress(KeyError):
                    self.status.remove(fmc, old, each.value)
            if fmc in self._last_read:  # the same device: its last good check stays
                self.last_success.labels(fmc=fmc, kind=new).set(self._last_read[fmc])
        self._kinds[fmc] = new
        return new

    # -- per-FMC state

    def _set_state(
        self,
        fmc: str,
        status: str,
        not_after: datetime | None,
        checked_at: datetime | None,
        affected: bool | None,
        kind: str | None = None,
    ) -> None:
        kind = self._kind(fmc, kind)
        for each in Status:
            self.status.labels(fmc=fmc, kind=kind, status=each.value).set(
                1 if each.value == status else 0
            )
        stamp = None if not_after is None else not_after.timestamp()
        _set_or_remove(self.not_after, fmc, kind, stamp)
        _set_or_remove(self.affected, fmc, kind, None if affected is None else float(affected))
        if checked_at is not None:
            self._last_read[fmc] = checked_at.timestamp()
            self.last_success.labels(fmc=fmc, kind=kind).set(checked_at.timestamp())
        else:
            self.never_checked(fmc)

    def never_checked(self, fmc: str, kind: str | None = None) -> None:
        """Export 0 as ``fmc``'s last successful check unless a check has read it already."""
        kind = self._kind(fmc, kind)
        # A new child starts at 0; an existing one is kept.
        self.last_success.labels(fmc=fmc, kind=kind)

    def observe_finding(self, finding: Finding) -> None:
        """Set one FMC's gauges from a fresh finding."""
        cert = finding.facts.certificate
        self._set_state(
            finding.name,
            finding.status.value,
            cert.not_after if cert else None,
            finding.checked_at if cert else None,
            finding.affected,
            finding.kind.value,
        )

    def observe_scan(self, report: ScanReport, *, kind: str = "scan") -> None:
        """Count a recorded scan, time it, and update every scanned FMC's gauges."""
        self.scans.labels(kind=kind).inc()
        self.scan_duration.observe(max(0.0, report.duration_seconds))
        for finding in report.findings:
            self.observe_finding(finding)

    def seed(
        self,
        latest: Sequence[StoredFinding],
        last_success: Mapping[str, datetime] | None = None,
        fmcs: Iterable[str] = (),
        kinds: Mapping[str, str] | None = None,
    ) -> None:
        """Set the per-FMC gauges from stored findings (at start, before any scan).

        ``fmcs`` are the config's FMC names: those never read successfully export 0 as
        their last successful check. ``kinds`` (name to ``fmc``/``ftd``, from the config)
        wins over the kind a stored finding recorded; without either, ``fmc``.
        """
        last_success = last_success or {}
        kinds = kinds or {}
        for stored in latest:
            not_after = stored.not_after
            checked = stored.checked_at if not_after is not None else last_success.get(stored.fmc)
            affected = stored.data.get("affected")
            self._set_state(
                stored.fmc,
                stored.status,
                not_after,
                checked,
                affected if isinstance(affected, bool) else None,
                kinds.get(stored.fmc) or _stored_kind(stored),
            )
        for fmc in fmcs:
            self.never_checked(fmc, kinds.get(fmc))

    async def seed_from_store(
        self, store: Store, fmcs: Iterable[str] = (), kinds: Mapping[str, str] | None = None
    ) -> None:
        """Seed from the store's newest finding of each FMC and its last successful check.

        ``fmcs`` (the config's FMC names) get a last successful check of 0 when the store
        holds none for them; ``kinds`` as in :meth:`seed`.
        """
        latest = await store.latest_findings()
        last_success: dict[str, datetime] = {}
        for stored in latest:
            if stored.not_after is not None:
                continue
            # The newest check failed: find when one last read the certificate.
            for older in await store.findings(stored.fmc, limit=100):
                if older.not_after is not None:
                    last_success[stored.fmc] = older.checked_at
                    break
        self.seed(latest, last_success, fmcs, kinds)

    # -- events

    def observe_remediation(self, action: str, outcome: str) -> None:
        """Count one finished remediation (outcome: a RunStatus value)."""
        self.remediations.labels(action=action, outcome=outcome).inc()

    def observe_approval(self, decision: str) -> None:
        """Count one approval click: approved, denied or refused."""
        self.approvals.labels(decision=decision).inc()

    def observe_slack_error(self, method: str, error: str) -> None:
        """Count one failed Slack Web API call."""
        self.slack_errors.labels(method=method, error=error).inc()

    def observe_delivery_failure(self, what: str) -> None:
        """Count one message that could not be delivered (incident edit, note, re-post...)."""
        self.delivery_failures.labels(what=what).inc()

    def render(self) -> bytes:
        """The exposition text of every series."""
        return generate_latest(self.registry)
