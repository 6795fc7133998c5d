"""Fix requests and their decisions: one live request per FMC and action, closed once untrue.

A request is opened for a fix (by a scan or a person), decided exactly once (Approve or
Deny; the store's compare-and-set), or closed with a reason (superseded, denied, renewed,
run finished, FMC removed, package changed) or expired. Every change is audited here, and
the Slack bot is told of each closed request to edit its message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from bot.core.advisory import Action
from bot.core.approval import (
    ApprovalRequest,
    ApprovalStatus,
    Decision,
    nothing_to_do_reason,
    removed_reason,
    run_finished_reason,
    superseded_reason,
)
from bot.core.audit import AuditAction
from bot.core.findings import Finding
from bot.core.incidents import needs_attention
from bot.errors import RemediationError, StorageError
from bot.operations.base import OperationsBase
from bot.remediation.package import inspect_vdb_package
from bot.remediation.service import RemediationResult

log = logging.getLogger("bot.operations")

ClosedListener = Callable[[Sequence[ApprovalRequest]], Awaitable[None]]
"""Told of every request closed, so the Slack bot can edit its message to say why."""

EXPIRY_ACTOR = "system:approvals"  # who expires requests: nobody in person
DECIDED = {
    ApprovalStatus.APPROVED: AuditAction.APPROVAL_APPROVED,
    ApprovalStatus.DENIED: AuditAction.APPROVAL_DENIED,
}


class ApprovalOperations(OperationsBase):
    """Open, decide, close and expire fix requests; every change audited."""

    on_requests_closed: ClosedListener | None = None  # set by the Slack bot
    _package_digest: tuple[tuple[str, int, int], str] | None = None

    async def request_fix(
        self,
        fmc: str,
        action: str,
        *,
        requested_by: str,
        channel: str | None,
        ttl: timedelta,
        plan_sha256: str | None = None,
    ) -> ApprovalRequest:
        """A new PENDING request; an older one of the same FMC and action is superseded.

        A VDB update is bound to the package configured now (its sha256): an Approve after
        the file changed is refused.
        """
        if plan_sha256 is None and action == Action.VDB_UPDATE.value:
            plan_sha256 = await self.package_sha256()
        now = self.clock()
        request, superseded = await self.store.open_approval(
            fmc=fmc,
            action=action,
            requested_by=requested_by,
            now=now,
            expires_at=now + ttl,
            channel=channel,
            plan_sha256=plan_sha256,
        )
        for old in superseded:
            await self._audit_closed(old, actor=requested_by, reason=superseded_reason(request.id))
        await self._tell_closed(superseded)
        return request

    async def record_fix_request(self, request: ApprovalRequest, *, actor: str) -> None:
        """Audit that ``actor`` asked for ``request`` in person (once its message is up)."""
        await self._audit(
            AuditAction.APPROVAL_REQUESTED,
            actor=actor,
            fmc=request.fmc,
            detail={"approval_id": request.id, "action": request.action,
                    "channel": request.channel},
        )  # fmt: skip

    async def package_sha256(self) -> str | None:
        """The sha256 of the configured VDB package (cached while the file is unchanged)."""
        path = self.config.remediation.vdb_package
        if path is None:
            return None
        try:
            stat = path.stat()
            key = (str(path), stat.st_mtime_ns, stat.st_size)
            if self._package_digest is None or self._package_digest[0] != key:
                package = await asyncio.to_thread(inspect_vdb_package, path)
                self._package_digest = (key, package.sha256)
        except (OSError, RemediationError) as exc:
            # The fix cannot run anyway; the Approve will say why when it reads the package.
            log.warning("cannot read the VDB package %s: %s", path, exc)
            return None
        return self._package_digest[1]

    async def find_request(self, approval_id: int) -> ApprovalRequest | None:
        """The request with this id, whatever its state; None when there is none."""
        return await self.store.approval(approval_id)

    async def request_for_run(self, run_id: int) -> ApprovalRequest | None:
        """The request whose approval started run ``run_id``; None for a run from the CLI."""
        return await self.store.approval_for_run(run_id)

    async def remember_request_message(
        self,
        approval_id: int,
        *,
        channel: str,
        message_ts: str,
        thread_ts: str,
        message: Mapping[str, Any],
    ) -> None:
        """Record which message carries a request's buttons, and what it says."""
        await self.store.set_approval_message(
            approval_id, channel=channel, message_ts=message_ts, thread_ts=thread_ts,
            message=message,
        )  # fmt: skip

    async def link_run(self, approval_id: int, run_id: int) -> None:
        """Record that the approval of request ``approval_id`` started run ``run_id``."""
        await self.store.attach_run(approval_id, run_id)

    async def decide_request(
        self, approval_id: int, *, status: ApprovalStatus, by: str, actor: str
    ) -> ApprovalRequest | None:
        """Decide a PENDING request (``status``: APPROVED or DENIED), counted and audited.

        None when it was no longer pending: exactly one caller gets the request back
        however many decide it at once.
        """
        audited = DECIDED.get(status)
        if audited is None:
            raise ValueError(f"a request is approved or denied, not {status.value}")
        decided = await self.store.decide_approval(
            approval_id, status=status, by=by, now=self.clock()
        )
        if decided is None:
            return None
        if self.metrics is not None:
            self.metrics.observe_approval(status.value)
        await self._audit(
            audited,
            actor=actor,
            fmc=decided.fmc,
            detail={
                "approval_id": decided.id,
                "action": decided.action,
                "requested_by": decided.requested_by,
            },
        )
        return decided

    async def refuse_decision(
        self, *, actor: str, decision: Decision, reason: str, request: ApprovalRequest | None
    ) -> None:
        """A click that changes nothing: counted and audited with why."""
        if self.metrics is not None:
            self.metrics.observe_approval("refused")
        await self._audit(
            AuditAction.APPROVAL_REFUSED,
            actor=actor,
            fmc=request.fmc if request else None,
            detail={
                "approval_id": request.id if request else None,
                "decision": decision.value,
                "reason": reason,
            },
        )

    async def close_requests(
        self, fmc: str, *, reason: str, actor: str, ids: Sequence[int] | None = None
    ) -> list[ApprovalRequest]:
        """Close the open requests of ``fmc`` (only ``ids`` when given), audited, and say so."""
        closed = await self.store.close_approvals(fmc=fmc, reason=reason, now=self.clock(), ids=ids)
        for request in closed:
            await self._audit_closed(request, actor=actor, reason=reason)
        await self._tell_closed(closed)
        return closed

    async def close_requests_after_run(
        self, result: RemediationResult, *, actor: str
    ) -> list[ApprovalRequest]:
        """A finished run (whatever its outcome) closes the open requests of its FMC."""
        reason = run_finished_reason(result.run_id, result.action, result.status.value)
        return await self.close_requests(result.fmc, reason=reason, actor=actor)

    async def expire_requests(self) -> list[ApprovalRequest]:
        """Requests whose time is up stop being pending (their buttons go); audited."""
        expired = await self.store.expire_approvals(now=self.clock())
        for request in expired:
            await self._audit(
                AuditAction.APPROVAL_EXPIRED,
                actor=EXPIRY_ACTOR,
                fmc=request.fmc,
                detail={"approval_id": request.id, "action": request.action},
            )
        await self._tell_closed(expired)
        return expired

    async def close_orphan_requests(self, *, actor: str) -> list[ApprovalRequest]:
        """Close the open requests of FMCs no longer in the config."""
        known = set(self.config.names())
        closed: list[ApprovalRequest] = []
        for fmc in sorted({r.fmc for r in await self.store.pending_approvals()} - known):
            closed += await self.close_requests(fmc, reason=removed_reason(fmc), actor=actor)
        return closed

    async def _close_needless_requests(self, findings: Sequence[Finding], *, actor: str) -> None:
        """A scan that sees an FMC healthy closes its open requests: nothing is left to fix."""
        try:
            await self.expire_requests()
            pending = {request.fmc for request in await self.store.pending_approvals()}
            for finding in findings:
                if (
                    finding.name in pending
                    and finding.error is None
                    and not needs_attention(finding)
                ):
                    await self.close_requests(
                        finding.name, reason=nothing_to_do_reason(finding), actor=actor
                    )
        except StorageError as exc:
            log.warning("open requests of healthy FMCs were not closed: %s", exc)

    async def _audit_closed(self, request: ApprovalRequest, *, actor: str, reason: str) -> None:
        await self._audit(
            AuditAction.APPROVAL_CLOSED,
            actor=actor,
            fmc=request.fmc,
            detail={"approval_id": request.id, "action": request.action, "reason": reason},
        )

    async def _tell_closed(self, closed: Sequence[ApprovalRequest]) -> None:
        if closed and self.on_requests_closed is not None:
            await self.on_requests_closed(closed)
