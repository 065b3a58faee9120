"""Security-group rules moto's CloudFormation drops: inline `SecurityGroupIngress` entries with `CidrIpv6`
(moto passes only CidrIp and source groups on), `CidrIpv6` on AWS::EC2::SecurityGroupIngress, and inline
`SecurityGroupEgress` (which, as on AWS, replaces the default allow-all egress)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from localcloud.patching import Patches


def sg_rule_patches() -> Patches:
    from moto.ec2.models.security_groups import SecurityGroup, SecurityGroupIngress

    patches = Patches("localcloud.cfn.sg_rules")
    create_group: Callable[..., Any] = SecurityGroup.create_from_cloudformation_json.__func__
    create_ingress: Callable[..., Any] = SecurityGroupIngress.create_from_cloudformation_json.__func__

    @functools.wraps(create_group)
    def group(cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str,
              **kwargs: Any) -> Any:
        props = cloudformation_json.get("Properties", {})
        rules = props.get("SecurityGroupIngress") or []
        ipv6_rules = [rule for rule in rules if rule.get("CidrIpv6")]
        # moto would call each IPv6 rule a no-op (and fail on one without ports): it sees the others only
        moto_json = {**cloudformation_json, "Properties": {
            **props, "SecurityGroupIngress": [rule for rule in rules if not rule.get("CidrIpv6")]}}
        security_group = create_group(cls, resource_name, moto_json, account_id, region_name, **kwargs)
        for rule in ipv6_rules:
            _authorize_ipv6(security_group, rule, account_id, region_name)
        if "SecurityGroupEgress" in props:
            security_group.egress_rules.clear()
            for rule in props["SecurityGroupEgress"] or []:
                _authorize_egress(security_group, rule, account_id, region_name)
        return security_group

    @functools.wraps(create_ingress)
    def ingress(cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str,
                **kwargs: Any) -> Any:
        created = create_ingress(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        props = cloudformation_json.get("Properties", {})
        if props.get("CidrIpv6"):
            _authorize_ipv6(created.security_group, props, account_id, region_name)
        return created

    patches.add(SecurityGroup, "create_from_cloudformation_json", classmethod(group))
    patches.add(SecurityGroupIngress, "create_from_cloudformation_json", classmethod(ingress))
    return patches


def _authorize_ipv6(security_group: Any, rule: dict[str, Any], account_id: str, region_name: str) -> None:
    from moto.ec2.models import ec2_backends

    ip_range = {"CidrIpv6": str(rule["CidrIpv6"])}
    if rule.get("Description"):
        ip_range["Description"] = str(rule["Description"])
    ec2_backends[account_id][region_name].authorize_security_group_ingress(
        group_name_or_id=security_group.id, ip_protocol=str(rule["IpProtocol"]),
        from_port=rule.get("FromPort"), to_port=rule.get("ToPort"), ip_ranges=[ip_range],
        vpc_id=security_group.vpc_id)


def _authorize_egress(security_group: Any, rule: dict[str, Any], account_id: str, region_name: str) -> None:
    from moto.ec2.models import ec2_backends

    ranges = [{key: str(rule[key]), **({"Description": str(rule["Description"])} if rule.get("Description") else {})}
              for key in ("CidrIp", "CidrIpv6") if rule.get(key)]
    groups = [{"GroupId": str(rule["DestinationSecurityGroupId"])}] if rule.get("DestinationSecurityGroupId") else []
    ec2_backends[account_id][region_name].authorize_security_group_egress(
        group_name_or_id=security_group.id, ip_protocol=str(rule["IpProtocol"]),
        from_port=rule.get("FromPort"), to_port=rule.get("ToPort"), ip_ranges=ranges, source_groups=groups,
        vpc_id=security_group.vpc_id)
