"""DNS wire format for the authoritative server: parse a query, render a `Resolution`, truncate for UDP.

The answer logic lives in routing.py; this module only knows dnspython.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from localcloud.route53.model import normalize_name
from localcloud.route53.routing import Resolution, Rrset

log = logging.getLogger(__name__)

UDP_DEFAULT_PAYLOAD = 512
Resolve = Callable[[str, str], Resolution]  # (normalised qname, type mnemonic) -> Resolution


def reply(data: bytes, resolve: Resolve, max_size: int | None = None) -> bytes | None:
    """The reply to one query in wire format, or None when the bytes are not even a DNS header.
    `max_size` None: UDP rules (512 bytes, or the client's EDNS payload); an answer that does not fit
    goes out empty with TC set, so the client retries over TCP."""
    try:
        query = dns.message.from_wire(data)
    except dns.exception.DNSException:
        return _formerr(data)
    response = dns.message.make_response(query)
    if query.opcode() != dns.opcode.QUERY:
        response.set_rcode(dns.rcode.NOTIMP)
    elif len(query.question) != 1:
        response.set_rcode(dns.rcode.FORMERR)
    else:
        _answer(response, query.question[0], resolve)
    if max_size is None:
        max_size = max(UDP_DEFAULT_PAYLOAD, query.payload) if query.edns >= 0 else UDP_DEFAULT_PAYLOAD
    try:
        return response.to_wire(max_size=max_size)
    except dns.exception.TooBig:
        response.answer, response.authority, response.additional = [], [], []
        response.flags |= dns.flags.TC
        return response.to_wire(max_size=max_size)


def _answer(response: dns.message.Message, question: dns.rrset.RRset, resolve: Resolve) -> None:
    qtype = dns.rdatatype.to_text(question.rdtype)
    if question.rdclass != dns.rdataclass.IN or qtype in ("AXFR", "IXFR"):
        response.set_rcode(dns.rcode.REFUSED)
        return
    try:
        resolution = resolve(normalize_name(question.name.to_text()), qtype)
    except Exception:  # a health view or alias resolver that broke: the client gets SERVFAIL, we a trace
        log.exception("resolving %s %s failed", question.name, qtype)
        response.set_rcode(dns.rcode.SERVFAIL)
        return
    try:
        _render(response, resolution, question.name)
    except (dns.exception.DNSException, ValueError) as exc:
        # moto stores values AWS would reject (an A record of "not-an-ip"): say so, answer SERVFAIL.
        log.warning("cannot render the answer for %s %s: %s", question.name, qtype, exc)
        response.answer, response.authority, response.additional = [], [], []
        response.set_rcode(dns.rcode.SERVFAIL)


def _render(response: dns.message.Message, resolution: Resolution, qname: dns.name.Name) -> None:
    response.set_rcode(dns.rcode.from_text(resolution.rcode))
    if resolution.authoritative:
        response.flags |= dns.flags.AA
    owner = normalize_name(qname.to_text())
    for section, rrsets in ((response.answer, resolution.answer), (response.authority, resolution.authority),
                            (response.additional, resolution.additional)):
        # The question's own spelling for its name (resolvers may randomise case and compare).
        section.extend(_to_rrset(rr, qname if rr.name == owner else dns.name.from_text(rr.name))
                       for rr in rrsets)


def _to_rrset(rr: Rrset, name: dns.name.Name) -> dns.rrset.RRset:
    rdtype = dns.rdatatype.from_text(rr.type)
    rrset = dns.rrset.RRset(name, dns.rdataclass.IN, rdtype)
    for value in rr.values:
        rrset.add(dns.rdata.from_text(dns.rdataclass.IN, rdtype, value, origin=dns.name.root,
                                      relativize=False), rr.ttl)
    return rrset


def _formerr(data: bytes) -> bytes | None:
    if len(data) < 12:
        return None
    message = dns.message.Message(id=int.from_bytes(data[:2], "big"))
    message.flags = dns.flags.QR
    message.set_rcode(dns.rcode.FORMERR)
    return message.to_wire()
