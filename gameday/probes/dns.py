"""DNS probe: one query per sample to one server, UDP first, TCP when the UDP reply is truncated.

The UDP socket is connected, so a closed port on the server answers with ICMP and the sample says
`refused` at once instead of waiting out the timeout (which is all an unconnected socket would see).
"""

from __future__ import annotations

import asyncio
import socket

import dns.asyncbackend
import dns.asyncquery
import dns.exception
import dns.inet
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype

from gameday.probes.base import Attempt, Failure, ProbeContext, classify
from gameday.probes.specs import DnsProbe, format_hostport
from gameday.timeline import Outcome, Sample

_RCODE_OUTCOMES = {
    dns.rcode.NXDOMAIN: Outcome.DNS_NXDOMAIN,
    dns.rcode.SERVFAIL: Outcome.DNS_SERVFAIL,
    dns.rcode.REFUSED: Outcome.DNS_REFUSED,
}


class DnsDriver:
    def __init__(self, spec: DnsProbe, ctx: ProbeContext) -> None:
        self._spec = spec
        self._ctx = ctx
        self._qname = dns.name.from_text(spec.qname)
        self._rdtype = dns.rdatatype.from_text(spec.rdtype)
        self._host, self._port = spec.server
        self._peer = format_hostport(self._host, self._port)
        self._family = dns.inet.af_for_address(self._host)
        self._backend = dns.asyncbackend.get_backend("asyncio")
        self._blocked = not ctx.guard.allows(self._host)

    async def sample(self, seq: int, scheduled_mono: float) -> Sample:
        attempt = Attempt(self._spec, self._ctx, seq, scheduled_mono)
        if self._blocked:
            return attempt.finish(Outcome.BLOCKED, answered=False, peer=self._peer,
                                  detail=f"network guard refused {self._host}")
        query = dns.message.make_query(self._qname, self._rdtype)
        over_tcp = False
        try:
            async with asyncio.timeout(self._spec.timeout_s):
                try:
                    response = await self._udp(query)
                except dns.message.Truncated:
                    over_tcp = True
                    response = await dns.asyncquery.tcp(query, self._host, None, self._port,
                                                        backend=self._backend)
        except Exception as exc:  # every failure is a measurement
            failure = _failure(exc, over_tcp)
            return attempt.finish(failure.outcome, answered=failure.answered, detail=failure.detail,
                                  peer=self._peer)
        return self._finish(attempt, response, over_tcp)

    async def _udp(self, query: dns.message.Message) -> dns.message.Message:
        sock = await self._backend.make_socket(self._family, socket.SOCK_DGRAM, 0, None,
                                               (self._host, self._port))
        async with sock:
            return await dns.asyncquery.udp(query, self._host, None, self._port,
                                            raise_on_truncation=True, sock=sock)

    def _finish(self, attempt: Attempt, response: dns.message.Message, over_tcp: bool) -> Sample:
        rcode = response.rcode()
        notes = [f"rcode={dns.rcode.to_text(rcode)}"] + (["via=tcp"] if over_tcp else [])
        cnames = [rd.to_text() for rrset in response.answer if rrset.rdtype == dns.rdatatype.CNAME
                  for rd in rrset]
        if cnames:
            notes.append("cname=" + ",".join(cnames))
        matching = [rrset for rrset in response.answer if rrset.rdtype == self._rdtype]
        if rcode == dns.rcode.NOERROR and matching:
            answers = tuple(sorted(rd.to_text() for rrset in matching for rd in rrset))
            expected = tuple(sorted(self._spec.expect_answers))
            if expected and answers != expected:
                notes.append(f"expected {','.join(expected)}")
                return attempt.finish(Outcome.FALLBACK, answers=answers, ttl=min(r.ttl for r in matching),
                                      peer=self._peer, detail=" ".join(notes))
            return attempt.finish(Outcome.OK, answers=answers, ttl=min(r.ttl for r in matching),
                                  peer=self._peer, detail=" ".join(notes))
        # Negative answers carry the SOA whose TTL says how long resolvers may cache the failure.
        soa_ttl = min((r.ttl for r in response.authority if r.rdtype == dns.rdatatype.SOA), default=None)
        if rcode == dns.rcode.NOERROR:
            outcome = Outcome.DNS_NODATA
        else:
            outcome = _RCODE_OUTCOMES.get(rcode, Outcome.ERROR)
        return attempt.finish(outcome, ttl=soa_ttl, peer=self._peer, detail=" ".join(notes))

    async def aclose(self) -> None:
        return None


def _failure(exc: BaseException, over_tcp: bool) -> Failure:
    if isinstance(exc, TimeoutError | dns.exception.Timeout):
        failure = Failure(Outcome.DNS_TIMEOUT, "no reply in time", answered=False)
    elif isinstance(exc, ConnectionRefusedError) and not over_tcp:
        failure = Failure(Outcome.REFUSED, "DNS port closed (ICMP port unreachable)")
    elif isinstance(exc, dns.exception.DNSException):
        failure = Failure(Outcome.DNS_BAD_REPLY, f"{type(exc).__name__}: {exc}")
    else:
        failure = classify(exc, connecting=False)
    if over_tcp:
        return Failure(Outcome.DNS_TRUNCATED, f"truncated over UDP; TCP retry: {failure.outcome.value}, "
                       f"{failure.detail}", answered=failure.answered)
    return failure
