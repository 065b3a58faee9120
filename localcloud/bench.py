"""Throughput of the data plane, measured with wrk: `python -m localcloud.bench [--seconds 5]`.

Not a test (the machine is shared; tests assert behaviour, not speed). It serves one instance's
app on the data-plane loop exactly as a cloud does and measures three paths: the instance's own
address, an Elastic IP routed to it (the in-process mirror), and a TCP-forwarded port (the path a
real HAProxy behind an Elastic IP would take); each with keep-alive and with a connection per request.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys

from localcloud.ec2.app import app_factory
from localcloud.loop import LoopThread
from localcloud.net.hosts import HostTable, Mirror, forwarder
from localcloud.net.pool import AddressPool


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m localcloud.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("localcloud.bench needs wrk (apt-get install wrk)", file=sys.stderr)
        return 2
    pool, loop = AddressPool(), LoopThread()
    pool.claim()
    loop.start()
    try:
        hosts = HostTable(loop.loop)
        targets = loop.call(lambda: _build(hosts, pool))
        results = {name: {mode: _wrk(url, args.seconds, args.connections, close=mode == "close")
                          for mode in ("keepalive", "close")} for name, url in targets.items()}
        loop.call(hosts.close_all)
    finally:
        loop.stop()
        pool.close()
    print(json.dumps({"requests_per_second": results, "connections": args.connections,
                      "seconds": args.seconds}, indent=2))
    return 0


def _build(hosts: HostTable, pool: AddressPool) -> dict[str, str]:
    instance = hosts.add(pool.allocate("instance"), (80, 8080))
    instance.serve(80, app_factory("i-bench"))
    instance.serve(8080, app_factory("i-bench"))
    eip = hosts.add(pool.allocate("eip"), (80,))
    Mirror(eip, instance).attach()
    forwarded = hosts.add(pool.allocate("forward"), (8080,))
    forwarded.serve(8080, forwarder(instance.address, 8080))
    return {"instance": f"http://{instance.address}/", "elastic_ip": f"http://{eip.address}/",
            "tcp_forward": f"http://{forwarded.address}:8080/"}


def _wrk(url: str, seconds: int, connections: int, *, close: bool) -> float:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", *(["-H", "Connection: close"] if close else []),
               url]
    output = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 30).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if errors:
        raise RuntimeError(f"{url}: {errors.group(1)} bad responses")
    found = re.search(r"Requests/sec:\s+([\d.]+)", output)
    return float(found.group(1)) if found else 0.0


if __name__ == "__main__":
    sys.exit(main())
