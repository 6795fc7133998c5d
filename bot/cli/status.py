"""`fmccert status`: the fleet from the last stored results, without touching any FMC."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from typing import Any

from bot.cli.common import load, opened_store, run_until_signalled, utc_now
from bot.config import AppConfig
from bot.core.expiry import Status, days_left
from bot.core.findings import iso_utc
from bot.operations import findings_as_of

# Same order of worry as a scan's exit status, read from stored statuses.
_EXIT = ((2, {"critical", "expired"}), (3, {"unknown"}), (1, {"warning"}))


async def _read(config: AppConfig) -> dict[str, Any]:
    now = utc_now()
    async with opened_store(config) as store:
        latest = await store.latest_findings()
        incidents = await store.open_incidents()
        pending = await store.pending_approvals()
    known = set(config.names())
    # Removed FMCs do not count; a stored "warning" that has expired since says so.
    latest = findings_as_of(latest, config, now=now)
    counts = Counter(stored.status for stored in latest)
    expiries = []
    for stored in latest:
        not_after = stored.not_after
        if not_after is not None:
            expiries.append((not_after, stored.fmc, stored.status))
    expiries.sort()
    return {
        "fmcs": len(config.names()),
        "checked": len(latest),
        "never_checked": sorted(known - {stored.fmc for stored in latest}),
        "counts": {status.value: counts.get(status.value, 0) for status in Status},
        "last_check": max((s.checked_at for s in latest), default=None),
        "soonest_expiries": [
            {"name": fmc, "not_after": at, "days_left": days_left(at, now), "status": status}
            for at, fmc, status in expiries[:5]
        ],
        "open_incidents": [
            {"name": i.fmc, "kind": i.kind.value, "severity": i.severity, "opened_at": i.opened_at}
            for i in incidents
        ],
        "pending_approvals": len(pending),
    }


def command_status(args: argparse.Namespace) -> int:
    """`fmccert status [--json]`; exit status as a scan's, from the stored statuses."""
    config = load(args)
    record = run_until_signalled(_read(config))
    if args.json:
        print(json.dumps(record, indent=2, default=iso_utc))
    else:
        counts = ", ".join(f"{n} {s}" for s, n in record["counts"].items() if n) or "no results"
        last = iso_utc(record["last_check"]) or "never"
        print(f"{record['checked']} of {record['fmcs']} FMCs checked: {counts} (last check {last})")
        if record["never_checked"]:
            print(f"never checked: {', '.join(record['never_checked'])}")
        print("soonest expiries:")
        for item in record["soonest_expiries"] or [{"name": "none known"}]:
            if "not_after" in item:
                print(f"  {item['name']}  {iso_utc(item['not_after'])}  "
                      f"{item['days_left']} days  {item['status']}")  # fmt: skip
            else:
                print(f"  {item['name']}")
        print(f"open incidents ({len(record['open_incidents'])}):")
        for incident in record["open_incidents"]:
            print(f"  {incident['name']}  {incident['kind']}  {incident['severity']}  "
                  f"since {iso_utc(incident['opened_at'])}")  # fmt: skip
        print(f"pending approvals: {record['pending_approvals']}")
    for code, statuses in _EXIT:
        if any(record["counts"][status] for status in statuses):
            return code
    return 0
