"""Fault `block-az-nacl`: cut off the subnets of one availability zone the way AWS FIS
`aws:network:disrupt-connectivity` (scope `all`) does.

Each subnet gets a clone of its network ACL with deny-all entries in front (traffic inside the subnet
stays allowed), and the subnet's association is swapped to the clone. Network ACLs are stateless, so
established flows break too. The revert re-associates the original ACL and deletes the clones, found by
their token tag, so it works from the journal alone even if the runner died mid-inject.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from gameday.backends.base import Backend
from gameday.errors import FaultError
from gameday.faults.plan import TOKEN_TAG, FaultPlan, RevertAction, Target
from gameday.faults.resources import error_code, is_gone, new_token, tags_of, token_tags

_FIRST_COPIED_RULE = 5  # rules 1-4 are ours (allow own subnet, deny all; IPv4 and IPv6); deny-all shadows the rest
_DEFAULT_RULE = 32767


@dataclass
class BlockAzNacl:
    backend: Backend
    vpc_id: str
    az: str
    name: str = "block-az-nacl"
    # What it does on AWS and what it means for clients, for the evidence report.
    mechanism: ClassVar[str] = (
        "The zone's subnets are swapped onto a clone of their network ACL with deny-all entries in front, as "
        "AWS FIS aws:network:disrupt-connectivity (scope all) does. Network ACLs are stateless: established "
        "connections freeze too, not only new ones, so even clients on a keep-alive connection hang until "
        "they time out and DNS has taken the zone out.")
    _plan: FaultPlan | None = field(default=None, init=False, repr=False)

    @property
    def target(self) -> str:
        return self._plan.target_summary if self._plan else f"{self.az} of {self.vpc_id}"

    def plan(self) -> FaultPlan:
        ec2 = self.backend.client("ec2")
        subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [self.vpc_id]},
                                                {"Name": "availability-zone", "Values": [self.az]}])["Subnets"]
        if not subnets:
            raise FaultError(f"no subnet in {self.az} of {self.vpc_id}", fault=self.name, target=self.az)
        token = new_token()
        subnets = sorted(subnets, key=lambda s: str(s["SubnetId"]))
        records = [{"subnet": s["SubnetId"], "network_acl": self._original_acl(ec2, s["SubnetId"]),
                    "cidr": s["CidrBlock"],
                    "ipv6_cidrs": [a["Ipv6CidrBlock"] for a in s.get("Ipv6CidrBlockAssociationSet", [])
                                   if a.get("Ipv6CidrBlock")]}
                   for s in subnets]
        targets = tuple(Target("ec2:subnet", s["SubnetId"], tags_of(s.get("Tags")), (self.vpc_id,),
                               note=f"{self.az}, {s['CidrBlock']}, network ACL {r['network_acl']}")
                        for s, r in zip(subnets, records, strict=True))
        ids = ", ".join(r["subnet"] for r in records)
        self._plan = FaultPlan(
            self.name, targets,
            f"associate {ids} with clones of their network ACLs that deny all traffic in and out except "
            f"within the subnet (tag {TOKEN_TAG}={token})",
            RevertAction("ec2.restore-nacl-associations", {"vpc_id": self.vpc_id, "token": token, "subnets": records},
                         f"re-associate {ids} with their original network ACLs and delete the clones"))
        return self._plan

    def _original_acl(self, ec2: Any, subnet_id: str) -> str:
        acl_id = _association_of(ec2, subnet_id)[1]
        acl = ec2.describe_network_acls(NetworkAclIds=[acl_id])["NetworkAcls"][0]
        if TOKEN_TAG in tags_of(acl.get("Tags")):
            raise FaultError(f"subnet {subnet_id} is still on {acl_id}, a blocking ACL of an earlier fault: "
                             "run `gameday rollback` first", fault=self.name, target=subnet_id)
        return acl_id

    def inject(self) -> None:
        if self._plan is None:
            raise FaultError("inject before plan", fault=self.name, target=self.az)
        ec2 = self.backend.client("ec2")
        params = self._plan.revert.params
        for record in params["subnets"]:
            clone = _clone_with_deny(ec2, params["vpc_id"], params["token"], record)
            association = _association_of(ec2, record["subnet"])
            ec2.replace_network_acl_association(AssociationId=association[0], NetworkAclId=clone)


def _association_of(ec2: Any, subnet_id: str) -> tuple[str, str]:
    """(association id, network ACL id) of a subnet: every subnet has exactly one."""
    acls = ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}])
    for acl in acls["NetworkAcls"]:
        for association in acl.get("Associations", []):
            if association.get("SubnetId") == subnet_id:
                return association["NetworkAclAssociationId"], acl["NetworkAclId"]
    raise LookupError(f"subnet {subnet_id} has no network ACL association")


def _clone_with_deny(ec2: Any, vpc_id: str, token: str, record: Mapping[str, Any]) -> str:
    name = f"gameday-block-{record['subnet']}"
    clone = ec2.create_network_acl(VpcId=vpc_id, TagSpecifications=token_tags(token, "network-acl", name))
    acl_id = str(clone["NetworkAcl"]["NetworkAclId"])
    entries: list[dict[str, Any]] = []
    for egress in (False, True):
        entries.append({"RuleNumber": 1, "RuleAction": "allow", "Egress": egress, "CidrBlock": record["cidr"]})
        entries.append({"RuleNumber": 2, "RuleAction": "deny", "Egress": egress, "CidrBlock": "0.0.0.0/0"})
        for cidr in record["ipv6_cidrs"][:1]:
            entries.append({"RuleNumber": 3, "RuleAction": "allow", "Egress": egress, "Ipv6CidrBlock": cidr})
        entries.append({"RuleNumber": 4, "RuleAction": "deny", "Egress": egress, "Ipv6CidrBlock": "::/0"})
    original = ec2.describe_network_acls(NetworkAclIds=[record["network_acl"]])["NetworkAcls"][0]
    entries += [_copyable(e) for e in original.get("Entries", [])
                if _FIRST_COPIED_RULE <= int(e["RuleNumber"]) < _DEFAULT_RULE]
    for entry in entries:
        ec2.create_network_acl_entry(NetworkAclId=acl_id, Protocol=entry.pop("Protocol", "-1"), **entry)
    return acl_id


def _copyable(entry: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("RuleNumber", "RuleAction", "Egress", "CidrBlock", "Ipv6CidrBlock", "Protocol", "PortRange", "IcmpTypeCode")
    return {k: entry[k] for k in keys if k in entry}


def restore_nacl_associations(backend: Backend, params: Mapping[str, Any]) -> None:
    """Each subnet back on its recorded network ACL; every clone of this fault deleted."""
    ec2 = backend.client("ec2")
    for record in params["subnets"]:
        try:
            association, current = _association_of(ec2, record["subnet"])
        except LookupError:
            continue  # the subnet is gone with its stack
        if current != record["network_acl"]:
            try:
                ec2.replace_network_acl_association(AssociationId=association, NetworkAclId=record["network_acl"])
            except ClientError as exc:
                if not is_gone(exc):
                    raise
    filters = [{"Name": "vpc-id", "Values": [params["vpc_id"]]},
               {"Name": f"tag:{TOKEN_TAG}", "Values": [params["token"]]}]
    for acl in ec2.describe_network_acls(Filters=filters)["NetworkAcls"]:
        try:
            ec2.delete_network_acl(NetworkAclId=acl["NetworkAclId"])
        except ClientError as exc:
            if not is_gone(exc) and error_code(exc) != "InvalidNetworkAclID.NotFound":
                raise


def nacl_targets(backend: Backend, params: Mapping[str, Any]) -> tuple[Target, ...]:
    """The live subnets the revert would re-associate (gone ones left out), for the blast-radius guard."""
    ec2 = backend.client("ec2")
    targets = []
    for record in params["subnets"]:
        try:
            found = ec2.describe_subnets(SubnetIds=[str(record["subnet"])])["Subnets"]
        except ClientError as exc:
            if is_gone(exc):
                continue
            raise
        targets += [Target("ec2:subnet", s["SubnetId"], tags_of(s.get("Tags")), (s.get("VpcId", ""),)) for s in found]
    return tuple(targets)
