"""Hosts: one loopback address and the ports localcloud manages on it; a table of them for the cloud."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from localcloud.errors import LocalCloudError
from localcloud.net.listener import Mode, PortListener, ProtocolFactory
from localcloud.net.proxy import ForwardProtocol

log = logging.getLogger(__name__)


class Host:
    """Ports start black-holed: an address nobody answers for yet."""

    def __init__(self, loop: asyncio.AbstractEventLoop, address: str, ports: Iterable[int]) -> None:
        self.address = address
        self._listeners = {port: PortListener(loop, address, port) for port in sorted(set(ports))}

    def __repr__(self) -> str:
        return f"Host({self.address}, ports={sorted(self._listeners)})"

    @property
    def ports(self) -> list[int]:
        return sorted(self._listeners)

    def open(self) -> None:
        try:
            for listener in self._listeners.values():
                listener.open()
        except PermissionError as exc:
            self.close()
            raise LocalCloudError(f"cannot bind {self.address}:{_port_of(exc, self)}: binding ports below "
                                  "1024 needs root or CAP_NET_BIND_SERVICE") from exc
        except OSError as exc:
            self.close()
            raise LocalCloudError(f"cannot bind {self.address}: {exc}") from exc

    def listener(self, port: int) -> PortListener | None:
        return self._listeners.get(port)

    def serve(self, port: int, factory: ProtocolFactory) -> None:
        listener = self._listeners.get(port)
        if listener is None:
            raise LocalCloudError(f"{self.address} has no port {port}")
        listener.serve(factory)

    def blackhole(self, port: int) -> None:
        listener = self._listeners.get(port)
        if listener is not None and listener.mode in (Mode.SERVE, Mode.BLACKHOLE):
            listener.blackhole()

    def release(self, port: int) -> None:
        """Leave `port` to a process of the host's own (a server the user data starts): localcloud unbinds it."""
        listener = self._listeners.get(port)
        if listener is None:
            raise LocalCloudError(f"{self.address} has no port {port}")
        listener.release()

    def reclaim(self, port: int) -> bool:
        """Take a released `port` back, black-holed; False while another process still holds it."""
        listener = self._listeners.get(port)
        if listener is None or listener.mode is not Mode.RELEASED:
            return True
        try:
            listener.open()
        except OSError:
            return False
        return True

    def blackhole_all(self) -> None:
        for port in self._listeners:
            self.blackhole(port)

    def close(self) -> None:
        for listener in self._listeners.values():
            listener.close()


def forwarder(address: str, port: int) -> ProtocolFactory:
    return lambda: ForwardProtocol(address, port)


def _port_of(exc: OSError, host: Host) -> str:
    return ",".join(str(p) for p in host.ports if p < 1024) or "?"


class HostTable:
    """Every host of one cloud, by address. Loop thread only."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._hosts: dict[str, Host] = {}

    def add(self, address: str, ports: Iterable[int]) -> Host:
        if address in self._hosts:
            raise LocalCloudError(f"host {address} already exists")
        host = Host(self._loop, address, ports)
        host.open()
        self._hosts[address] = host
        return host

    def get(self, address: str) -> Host | None:
        return self._hosts.get(address)

    def __len__(self) -> int:
        return len(self._hosts)

    def close_all(self) -> None:
        for host in self._hosts.values():
            try:
                host.close()
            except Exception:
                log.exception("closing %s", host)
        self._hosts.clear()


class Mirror:
    """A public address answering as a target host does (NAT), port by port.

    A port the target serves in-process is served with the target's own protocol factory and follows
    the target's mode (black-holed target, black-holed public address). Any other port, and a port the
    target released to a process of its own (a server its user data started), is forwarded over TCP to
    the target address (e.g. a real HAProxy bound there).
    """

    def __init__(self, public: Host, target: Host) -> None:
        self.public = public
        self.target = target
        self._watched: list[PortListener] = []

    def attach(self) -> None:
        for port in self.public.ports:
            target_listener = self.target.listener(port)
            if target_listener is None:
                self.public.serve(port, forwarder(self.target.address, port))
                continue
            target_listener.watch(self._follow)
            self._watched.append(target_listener)
            self._follow(target_listener)

    def refresh(self, port: int) -> None:
        """Serve `port` as the route does right now (after a firewall block is lifted)."""
        target_listener = self.target.listener(port)
        if target_listener is None:
            self.public.serve(port, forwarder(self.target.address, port))
        else:
            self._follow(target_listener)

    def detach(self) -> None:
        for listener in self._watched:
            listener.unwatch(self._follow)
        self._watched.clear()
        self.public.blackhole_all()

    def _follow(self, target_listener: PortListener) -> None:
        if target_listener.mode is Mode.RELEASED:
            self.public.serve(target_listener.port, forwarder(self.target.address, target_listener.port))
            return
        factory = target_listener.factory
        if factory is not None:
            self.public.serve(target_listener.port, factory)
        else:
            self.public.blackhole(target_listener.port)
