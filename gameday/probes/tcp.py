"""TCP connect probe: does the handshake complete, and with which address."""

from __future__ import annotations

import asyncio

from gameday.probes.base import (
    Attempt,
    Failure,
    ProbeContext,
    classify,
    close_quietly,
    connect,
    peer_of,
    resolve,
)
from gameday.probes.specs import TcpProbe
from gameday.timeline import Outcome, Sample


class TcpDriver:
    def __init__(self, spec: TcpProbe, ctx: ProbeContext) -> None:
        self._spec = spec
        self._ctx = ctx

    async def sample(self, seq: int, scheduled_mono: float) -> Sample:
        attempt = Attempt(self._spec, self._ctx, seq, scheduled_mono)
        deadline = attempt.started + self._spec.timeout_s
        clock = self._ctx.clock
        try:
            try:
                async with asyncio.timeout(deadline - clock.monotonic()):
                    addresses = await resolve(self._spec.host, self._spec.port, self._ctx.guard)
            except TimeoutError:
                raise Failure(Outcome.DNS_TIMEOUT, "name resolution timed out", answered=False) from None
            _, writer, tried = await connect(addresses, self._spec.port, deadline, clock)
        except Exception as exc:  # every failure is a measurement
            failure = classify(exc, connecting=True)
            return attempt.finish(failure.outcome, answered=failure.answered, detail=failure.detail,
                                  peer=failure.peer)
        connect_s = round(attempt.elapsed(), 6)
        peer = peer_of(writer, tried)
        close_quietly(writer)
        return attempt.finish(Outcome.OK, peer=peer, connect_s=connect_s)

    async def aclose(self) -> None:
        return None
