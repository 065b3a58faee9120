"""Fault `block-az-security-groups`: cut off the instances of one availability zone with security groups.

Two modes. `swap` (default) moves every network interface of the zone's instances onto a fresh
quarantine group with no rules, so only that zone is cut off; the revert puts each interface's exact
groups back and deletes the quarantine group. `strip` revokes the ingress rules of the groups those
instances use (refused when a group also serves another zone); the revert re-authorizes exactly the
rules that were there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from botocore.exceptions import ClientError
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_fixed

from gameday.backends.base import Backend
from gameday.errors import ConfigError, FaultError
from gameday.faults.identity import IdentityRefused
from gameday.faults.plan import TOKEN_TAG, FaultPlan, RevertAction, Target
from gameday.faults.resources import (
    error_code,
    instance_parents,
    is_gone,
    new_token,
    running_instances,
    tags_of,
    token_tags,
)

MODES = ("swap", "strip")
QUARANTINE_PREFIX = "gameday-quarantine-"
_RULE_SOURCES = ("IpRanges", "Ipv6Ranges", "PrefixListIds", "UserIdGroupPairs")
_SOURCE_ID = {"IpRanges": "CidrIp", "Ipv6Ranges": "CidrIpv6", "PrefixListIds": "PrefixListId",
              "UserIdGroupPairs": "GroupId"}


@dataclass
class BlockAzSecurityGroups:
    backend: Backend
    vpc_id: str
    az: str
    mode: str = "swap"
    name: str = "block-az-security-groups"
    # What it does on AWS and what it means for clients, for the evidence report.
    mechanism: ClassVar[str] = (
        "The zone's instances are cut off with security groups: their interfaces move to a quarantine group "
        "without rules (or their groups' ingress rules are revoked). Security groups are stateful: "
        "connections already tracked keep flowing, only new connections are dropped, silently (they hang, "
        "they are not refused). A client on a keep-alive connection sees nothing; new clients hang until "
        "health checks take the zone out of DNS.")
    _plan: FaultPlan | None = field(default=None, init=False, repr=False)

    @property
    def target(self) -> str:
        return self._plan.target_summary if self._plan else f"{self.az} of {self.vpc_id}"

    def plan(self) -> FaultPlan:
        if self.mode not in MODES:
            raise ConfigError(f"{self.name}: mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        ec2 = self.backend.client("ec2")
        instances = running_instances(ec2, self.vpc_id, self.az)
        if not instances:
            raise FaultError(f"no running instance in {self.az} of {self.vpc_id}", fault=self.name,
                             target=self.az)
        self._plan = self._swap_plan(instances) if self.mode == "swap" else self._strip_plan(ec2, instances)
        return self._plan

    def inject(self) -> None:
        if self._plan is None:
            raise FaultError("inject before plan", fault=self.name, target=self.az)
        ec2 = self.backend.client("ec2")
        if self.mode == "swap":
            _swap_in_quarantine(ec2, self._plan.revert.params)
        else:
            for group in self._plan.revert.params["groups"]:
                if group["permissions"]:
                    ec2.revoke_security_group_ingress(GroupId=group["group_id"], IpPermissions=group["permissions"])

    def _swap_plan(self, instances: list[dict[str, Any]]) -> FaultPlan:
        for instance in instances:
            stale = [g["GroupId"] for g in instance.get("SecurityGroups", [])
                     if str(g.get("GroupName", "")).startswith(QUARANTINE_PREFIX)]
            if stale:
                raise FaultError(f"{instance['InstanceId']} is still in {stale[0]}, the quarantine group of an "
                                 "earlier fault: run `gameday rollback` first", fault=self.name,
                                 target=instance["InstanceId"])
        for instance in instances:
            empty = [n["NetworkInterfaceId"] for n in instance.get("NetworkInterfaces", []) if not n["Groups"]]
            if empty:  # the API cannot put "no group" back
                raise FaultError(f"interface {empty[0]} of {instance['InstanceId']} has no security group to restore",
                                 fault=self.name, target=instance["InstanceId"])
        token = new_token()
        records = [{"instance": i["InstanceId"], "groups": [g["GroupId"] for g in i.get("SecurityGroups", [])],
                    "sole_interface": len(i.get("NetworkInterfaces", [])) == 1,
                    "interfaces": [{"eni": n["NetworkInterfaceId"], "groups": [g["GroupId"] for g in n["Groups"]]}
                                   for n in i.get("NetworkInterfaces", [])]}
                   for i in instances]
        targets = tuple(Target("ec2:instance", i["InstanceId"], tags_of(i.get("Tags")), instance_parents(i),
                               note=f"{self.az}, groups {', '.join(r['groups']) or 'none'}")
                        for i, r in zip(instances, records, strict=True))
        ids = ", ".join(r["instance"] for r in records)
        return FaultPlan(
            self.name, targets,
            f"move the network interfaces of {ids} onto a new quarantine group with no rules "
            f"(tag {TOKEN_TAG}={token})",
            RevertAction("ec2.restore-interface-groups",
                         {"vpc_id": self.vpc_id, "token": token, "instances": records},
                         f"put the original security groups back on {ids} and delete the quarantine group"))

    def _strip_plan(self, ec2: Any, instances: list[dict[str, Any]]) -> FaultPlan:
        on_interfaces = {g["GroupId"] for i in instances for n in i.get("NetworkInterfaces", []) for g in n["Groups"]}
        group_ids = sorted(on_interfaces | {g["GroupId"] for i in instances for g in i.get("SecurityGroups", [])})
        if not group_ids:
            raise FaultError(f"the instances in {self.az} have no security group to strip", fault=self.name,
                             target=self.az)
        groups = ec2.describe_security_groups(GroupIds=group_ids)["SecurityGroups"]
        for group in groups:
            self._refuse_if_shared(ec2, group["GroupId"])
        records = [{"group_id": g["GroupId"], "permissions": g.get("IpPermissions", [])} for g in groups]
        targets = tuple(Target("ec2:security-group", g["GroupId"], tags_of(g.get("Tags")), (g.get("VpcId", ""),),
                               note=f"{len(g.get('IpPermissions', []))} ingress permission(s)") for g in groups)
        ids = ", ".join(group_ids)
        return FaultPlan(self.name, targets, f"revoke every ingress rule of {ids}",
                         RevertAction("ec2.restore-ingress", {"groups": records},
                                      f"re-authorize the exact ingress rules of {ids}"))

    def _refuse_if_shared(self, ec2: Any, group_id: str) -> None:
        interfaces = ec2.describe_network_interfaces(
            Filters=[{"Name": "group-id", "Values": [group_id]}])["NetworkInterfaces"]
        elsewhere = sorted({n.get("AvailabilityZone", "") for n in interfaces} - {self.az})
        if elsewhere:
            raise FaultError(f"mode strip would also cut off {group_id}'s interfaces in {', '.join(elsewhere)}; "
                             "use mode swap to block one zone only", fault=self.name, target=group_id)


def _swap_in_quarantine(ec2: Any, params: Mapping[str, Any]) -> None:
    token = params["token"]
    name = f"{QUARANTINE_PREFIX}{token}"
    quarantine = ec2.create_security_group(
        GroupName=name, Description="gameday block-az-security-groups: no rules, nothing in or out",
        VpcId=params["vpc_id"], TagSpecifications=token_tags(token, "security-group", name))["GroupId"]
    try:
        ec2.revoke_security_group_egress(GroupId=quarantine,
                                         IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    except ClientError as exc:
        if error_code(exc) != "InvalidPermission.NotFound":
            raise
    for record in params["instances"]:
        if _instance_level(record):  # one interface: the instance's groups are that interface's groups
            ec2.modify_instance_attribute(InstanceId=record["instance"], Groups=[quarantine])
        for interface in record["interfaces"]:
            ec2.modify_network_interface_attribute(NetworkInterfaceId=interface["eni"], Groups=[quarantine])


def restore_interface_groups(backend: Backend, params: Mapping[str, Any]) -> None:
    """Each interface (and single-interface instance) back on its recorded groups; quarantine deleted."""
    ec2 = backend.client("ec2")
    for record in params["instances"]:
        if _instance_level(record):
            _restore_instance_groups(ec2, record["instance"], record["groups"])
        for interface in record["interfaces"]:
            _restore_eni_groups(ec2, interface["eni"], interface["groups"])
    _delete_quarantine(ec2, params["vpc_id"], params["token"])


def _instance_level(record: Mapping[str, Any]) -> bool:
    """Also change the instance's own groups: it has one interface (AWS then treats both as one) and groups
    to put back (an instance without any, as moto's CloudFormation makes them, keeps its interface's)."""
    return bool(record["sole_interface"] and record["groups"])


def _restore_instance_groups(ec2: Any, instance_id: str, groups: list[str]) -> None:
    try:
        reservations = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    except ClientError as exc:
        if is_gone(exc):
            return
        raise
    for instance in (i for r in reservations for i in r["Instances"]):
        if instance["State"]["Name"] in ("shutting-down", "terminated"):
            return
        if {g["GroupId"] for g in instance.get("SecurityGroups", [])} != set(groups):
            ec2.modify_instance_attribute(InstanceId=instance_id, Groups=groups)


def _restore_eni_groups(ec2: Any, eni: str, groups: list[str]) -> None:
    try:
        interfaces = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni])["NetworkInterfaces"]
    except ClientError as exc:
        if is_gone(exc):
            return  # deleted with its terminated instance
        raise
    if interfaces and {g["GroupId"] for g in interfaces[0]["Groups"]} != set(groups):
        ec2.modify_network_interface_attribute(NetworkInterfaceId=eni, Groups=groups)


def _delete_quarantine(ec2: Any, vpc_id: str, token: str) -> None:
    filters = [{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": f"tag:{TOKEN_TAG}", "Values": [token]}]
    for group in ec2.describe_security_groups(Filters=filters)["SecurityGroups"]:
        _delete_group(ec2, group["GroupId"])


@retry(retry=retry_if_exception(lambda e: isinstance(e, ClientError) and error_code(e) == "DependencyViolation"),
       wait=wait_fixed(2.0), stop=stop_after_attempt(15), reraise=True)
def _delete_group(ec2: Any, group_id: str) -> None:
    # AWS may still count a just-moved interface as a member for a few seconds: retry, bounded.
    try:
        ec2.delete_security_group(GroupId=group_id)
    except ClientError as exc:
        if not is_gone(exc):
            raise


def restore_ingress(backend: Backend, params: Mapping[str, Any]) -> None:
    """Re-authorize every recorded ingress rule that is missing now (rules present are left alone)."""
    ec2 = backend.client("ec2")
    for record in params["groups"]:
        try:
            groups = ec2.describe_security_groups(GroupIds=[record["group_id"]])["SecurityGroups"]
        except ClientError as exc:
            if is_gone(exc):
                continue
            raise
        present = {key for perm in groups[0].get("IpPermissions", []) for key, _ in _atomic_rules(perm)}
        missing = [rule for perm in record["permissions"] for key, rule in _atomic_rules(perm) if key not in present]
        for rule in missing:
            try:
                ec2.authorize_security_group_ingress(GroupId=record["group_id"], IpPermissions=[rule])
            except ClientError as exc:
                if error_code(exc) != "InvalidPermission.Duplicate":
                    raise


def _atomic_rules(perm: Mapping[str, Any]) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    """One (identity, IpPermission) per source: the unit in which rules exist, are revoked and re-added."""
    base = {k: perm[k] for k in ("IpProtocol", "FromPort", "ToPort") if k in perm}
    rules = []
    for source in _RULE_SOURCES:
        for item in perm.get(source, []):
            if source == "UserIdGroupPairs":
                item = {k: item[k] for k in ("GroupId", "UserId", "Description") if k in item}
            identity = (base.get("IpProtocol"), base.get("FromPort"), base.get("ToPort"), source,
                        item.get(_SOURCE_ID[source]))
            rules.append((identity, {**base, source: [dict(item)]}))
    return rules


def interface_groups_targets(backend: Backend, params: Mapping[str, Any]) -> tuple[Target, ...]:
    """The live instances the revert would regroup. Every recorded interface must still belong to one of
    them: an interface of another instance is not this fault's to touch, and is refused."""
    ec2 = backend.client("ec2")
    targets: list[Target] = []
    for record in params["instances"]:
        instance = _live_instance(ec2, str(record["instance"]))
        if instance is None:
            continue
        targets.append(Target("ec2:instance", instance["InstanceId"], tags_of(instance.get("Tags")),
                              instance_parents(instance)))
        own = {n["NetworkInterfaceId"] for n in instance.get("NetworkInterfaces", [])}
        strangers = [str(i["eni"]) for i in record["interfaces"] if i["eni"] not in own and _eni_exists(ec2, i["eni"])]
        if strangers:
            raise IdentityRefused(f"refused: interface {strangers[0]} is not an interface of {instance['InstanceId']}, "
                              "as the journal says; nothing changed")
    return tuple(targets)


def ingress_targets(backend: Backend, params: Mapping[str, Any]) -> tuple[Target, ...]:
    """The live security groups the revert would re-authorize rules on (gone ones left out)."""
    ec2 = backend.client("ec2")
    targets = []
    for record in params["groups"]:
        try:
            groups = ec2.describe_security_groups(GroupIds=[str(record["group_id"])])["SecurityGroups"]
        except ClientError as exc:
            if is_gone(exc):
                continue
            raise
        targets += [Target("ec2:security-group", g["GroupId"], tags_of(g.get("Tags")), (g.get("VpcId", ""),))
                    for g in groups]
    return tuple(targets)


def _live_instance(ec2: Any, instance_id: str) -> dict[str, Any] | None:
    try:
        reservations = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    except ClientError as exc:
        if is_gone(exc):
            return None
        raise
    found = [i for r in reservations for i in r["Instances"] if i["State"]["Name"] not in ("shutting-down",
                                                                                           "terminated")]
    return dict(found[0]) if found else None


def _eni_exists(ec2: Any, eni: str) -> bool:
    try:
        return bool(ec2.describe_network_interfaces(NetworkInterfaceIds=[eni])["NetworkInterfaces"])
    except ClientError as exc:
        if is_gone(exc):
            return False
        raise
