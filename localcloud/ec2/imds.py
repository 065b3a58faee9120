"""The instance metadata service of one instance (IMDSv2 only), served on the instance's own address.

Scripts reach it through `AWS_EC2_METADATA_SERVICE_ENDPOINT` (botocore's own setting), so the AWS CLI
picks up the instance role's credentials exactly as on EC2. Values are read from moto on every
request: an Elastic IP associated a second ago shows up as `public-ipv4`. A Spot interruption puts
its rebalance recommendation and its notice here (both 404 before, as on EC2). The role's credentials
are registered (with `registry`) as a session named after the instance when served, so calls made with
them are evaluated against the role's policies.
"""

from __future__ import annotations

import json
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from localcloud.ec2 import moto_state
from localcloud.iam.credentials import CredentialRegistry, Credentials, Principal, iso
from localcloud.net.http import HttpServerProtocol, Request, Response, text
from localcloud.net.listener import ProtocolFactory

TOKEN_TTL_HEADER = "x-aws-ec2-metadata-token-ttl-seconds"
TOKEN_HEADER = "x-aws-ec2-metadata-token"
MAX_TOKEN_TTL = 21600

Tree = dict[str, Any]  # name -> str (leaf) or Tree (directory)


class Imds:
    def __init__(self, instance: Any, *, region: str, credentials: Credentials, user_data: bytes | None,
                 monotonic: Callable[[], float] = time.monotonic, max_tokens: int = 1000,
                 registry: CredentialRegistry | None = None) -> None:
        self._instance = instance
        self._registry = registry
        self._region = region
        self._credentials = credentials
        self._user_data = user_data
        self._monotonic = monotonic
        self._max_tokens = max_tokens
        self._tokens: OrderedDict[str, float] = OrderedDict()  # token -> monotonic expiry
        self._spot_notice: tuple[float, float] | None = None  # (notice, termination) epoch seconds

    def spot_notice(self, *, notice_time: float, termination_time: float) -> None:
        """From now on: a rebalance recommendation and a terminate interruption notice (loop thread)."""
        self._spot_notice = (notice_time, termination_time)

    def factory(self) -> ProtocolFactory:
        return lambda: HttpServerProtocol(self.handle)

    def handle(self, request: Request) -> Response:
        if request.path == "/latest/api/token":
            return self._issue_token(request) if request.method == "PUT" else text(405, "Method Not Allowed\n")
        if request.method not in ("GET", "HEAD"):
            return text(405, "Method Not Allowed\n")
        if not self._token_valid(request.header(TOKEN_HEADER)):
            return text(401, "Unauthorized\n")
        parts = [p for p in request.path.split("/") if p]
        if parts[:1] != ["latest"]:
            return text(404, "Not Found\n")
        if parts[1:] == ["user-data"]:
            return Response(200, self._user_data) if self._user_data is not None else text(404, "Not Found\n")
        if parts[1:] == ["dynamic", "instance-identity", "document"]:
            return Response(200, self._identity_document().encode(), content_type="application/json")
        if parts[1:2] == ["meta-data"]:
            return _lookup(self._metadata(), parts[2:])
        return text(404, "Not Found\n")

    # --- IMDSv2 tokens ---

    def _issue_token(self, request: Request) -> Response:
        if request.header("x-forwarded-for"):
            return text(403, "Forbidden\n")  # IMDSv2 refuses requests that went through a proxy
        try:
            ttl = int(request.header(TOKEN_TTL_HEADER))
        except ValueError:
            return text(400, "Bad Request\n")
        if not 1 <= ttl <= MAX_TOKEN_TTL:
            return text(400, "Bad Request\n")
        now = self._monotonic()
        for token, expiry in list(self._tokens.items()):
            if expiry <= now or len(self._tokens) >= self._max_tokens:
                del self._tokens[token]
        token = secrets.token_urlsafe(42)
        self._tokens[token] = now + ttl
        return Response(200, token.encode(), headers=((TOKEN_TTL_HEADER, str(ttl)),))

    def _token_valid(self, token: str) -> bool:
        expiry = self._tokens.get(token) if token else None
        return expiry is not None and expiry > self._monotonic()

    # --- content ---

    def _metadata(self) -> Tree:
        inst = self._instance
        nic = moto_state.primary_nic(inst)
        zone = str(inst.placement.zone)
        tree: Tree = {
            "ami-id": str(inst.image_id),
            "ami-launch-index": str(inst.ami_launch_index),
            "hostname": _hostname(moto_state.private_ip(inst), self._region),
            "instance-id": str(inst.id),
            "instance-type": str(inst.instance_type),
            "local-hostname": _hostname(moto_state.private_ip(inst), self._region),
            "local-ipv4": moto_state.private_ip(inst),
            "mac": str(nic.mac_address),
            "placement": {"availability-zone": zone, "region": self._region},
            "security-groups": "\n".join(name for _, name in moto_state.security_groups(inst)),
            "services": {"domain": "amazonaws.com", "partition": "aws"},
            "network": {"interfaces": {"macs": {str(n.mac_address): self._interface(n)
                                                for n in inst.nics.values()}}},
        }
        public = moto_state.public_ip(inst)
        if public:
            tree["public-ipv4"] = public
        ipv6 = moto_state.ipv6(inst)
        if ipv6:
            tree["ipv6"] = ipv6
        if self._spot_notice is not None:
            notice, termination = self._spot_notice
            tree["events"] = {"recommendations": {"rebalance": json.dumps({"noticeTime": iso(notice)})}}
            tree["spot"] = {"instance-action": json.dumps({"action": "terminate", "time": iso(termination)}),
                            "termination-time": iso(termination)}
        role = moto_state.role(inst)
        if role is not None:
            if self._registry is not None:
                self._registry.register(self._credentials.access_key_id,
                                        Principal(str(inst.owner_id), role.name, str(inst.id)))
            tree["iam"] = {
                "info": json.dumps({"Code": "Success", "LastUpdated": iso(self._credentials.issued_at),
                                    "InstanceProfileArn": role.profile_arn, "InstanceProfileId": role.profile_id}),
                "security-credentials": {role.name: self._credentials.to_json()},
            }
        return tree

    def _interface(self, nic: Any) -> Tree:
        info = moto_state.subnet_info(nic)
        groups = sorted({g.id for g in nic.group_set})
        entry: Tree = {
            "device-number": str(nic.device_index or 0),
            "interface-id": str(nic.id),
            "local-ipv4s": "\n".join(a["PrivateIpAddress"] for a in nic.private_ip_addresses),
            "mac": str(nic.mac_address),
            "owner-id": str(nic.owner_id),
            "security-group-ids": "\n".join(groups),
            "subnet-id": info["subnet-id"],
            "subnet-ipv4-cidr-block": info["subnet-ipv4-cidr-block"],
            "vpc-id": info["vpc-id"],
            "vpc-ipv4-cidr-block": info["vpc-ipv4-cidr-block"],
            "vpc-ipv4-cidr-blocks": info["vpc-ipv4-cidr-block"],
        }
        if nic.ipv6_addresses:
            entry["ipv6s"] = "\n".join(str(a) for a in nic.ipv6_addresses)
        if nic.public_ip:
            entry["public-ipv4s"] = str(nic.public_ip)
        return entry

    def _identity_document(self) -> str:
        inst = self._instance
        return json.dumps({
            "accountId": str(inst.owner_id), "architecture": str(inst.architecture),
            "availabilityZone": str(inst.placement.zone), "billingProducts": None,
            "devpayProductCodes": None, "marketplaceProductCodes": None, "imageId": str(inst.image_id),
            "instanceId": str(inst.id), "instanceType": str(inst.instance_type), "kernelId": None,
            "pendingTime": inst.launch_time.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "privateIp": moto_state.private_ip(inst), "ramdiskId": None, "region": self._region,
            "version": "2017-09-30",
        }, indent=2)


def _lookup(tree: Tree, parts: list[str]) -> Response:
    node: Any = tree
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            return text(404, "Not Found\n")
        node = node[part]
    if isinstance(node, dict):
        listing = [f"{name}/" if isinstance(value, dict) else name for name, value in sorted(node.items())]
        return text(200, "\n".join(listing))
    return text(200, str(node))


def _hostname(address: str, region: str) -> str:
    suffix = "ec2.internal" if region == "us-east-1" else f"{region}.compute.internal"
    return f"ip-{address.replace('.', '-')}.{suffix}"
