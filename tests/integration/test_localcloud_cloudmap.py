"""Cloud Map on localcloud: a private DNS namespace and service from CloudFormation, registrations answered
by the authoritative server on the VPC's listener after Route 53's propagation delay, custom health."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

import botocore.exceptions
import dns.message
import dns.query
import dns.rcode
import pytest

from localcloud import LocalCloud
from localcloud.cloudmap import DEREGISTER_EVENT, DNS_EVENT, HEALTH_EVENT, NAMESPACE_EVENT, REGISTER_EVENT
from localcloud.route53 import AuthoritativeDNS
from tests.localcloud.support import tiny_profile

pytestmark = pytest.mark.integration

SLACK = 0.05
TEMPLATE = """
Parameters:
  NamespaceName: {Type: String}
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties: {CidrBlock: 10.20.0.0/16}
  Namespace:
    Type: AWS::ServiceDiscovery::PrivateDnsNamespace
    Properties:
      Name: !Ref NamespaceName
      Vpc: !Ref Vpc
      Properties: {DnsProperties: {SOA: {TTL: 15}}}
  Origin:
    Type: AWS::ServiceDiscovery::Service
    Properties:
      Name: origin
      NamespaceId: !Ref Namespace
      DnsConfig:
        RoutingPolicy: MULTIVALUE
        DnsRecords: [{Type: AAAA, TTL: 30}]
      HealthCheckCustomConfig: {FailureThreshold: 1}
Outputs:
  VpcId: {Value: !Ref Vpc}
  NamespaceId: {Value: !Ref Namespace}
  NamespaceArn: {Value: !GetAtt Namespace.Arn}
  ZoneId: {Value: !GetAtt Namespace.HostedZoneId}
  ServiceId: {Value: !Ref Origin}
  ServiceName: {Value: !GetAtt Origin.Name}
"""


@dataclass(frozen=True)
class Deployed:
    stack: str
    stack_id: str
    namespace: str  # its name
    name: str  # origin.<namespace>
    outputs: dict[str, str]
    inside: tuple[str, int]  # the VPC's listener of the authoritative server


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    with LocalCloud(tiny_profile(tmp_path_factory.mktemp("profile")), seed=5) as running:
        yield running


@pytest.fixture
def deployed(cloud: LocalCloud) -> Deployed:
    stack, namespace = f"cm{uuid.uuid4().hex[:6]}", f"internal.cm{uuid.uuid4().hex[:6]}.test"
    cfn, mark = cloud.client("cloudformation"), len(cloud.events)
    cfn.create_stack(StackName=stack, TemplateBody=TEMPLATE,
                     Parameters=[{"ParameterKey": "NamespaceName", "ParameterValue": namespace}])
    found = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    assert found["StackStatus"] == "CREATE_COMPLETE", found.get("StackStatusReason")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in found["Outputs"]}
    created = cloud.events.find(NAMESPACE_EVENT, outputs["NamespaceId"], since=mark)[0]
    inside = (str(created.detail["listener"][0]), int(created.detail["listener"][1]))
    assert authoritative(cloud).vpc_address(outputs["VpcId"]) == inside
    cloud.events.wait_for("localcloud.route53.zone", namespace + ".", since=mark, timeout=10)  # the zone is served
    return Deployed(stack, found["StackId"], namespace, f"origin.{namespace}", outputs, inside)


def authoritative(cloud: LocalCloud) -> AuthoritativeDNS:
    return cast(AuthoritativeDNS, cloud.service("authoritative"))


def ask(where: tuple[str, int], name: str, rdtype: str = "AAAA") -> tuple[str, list[str], int | None]:
    reply = dns.query.udp(dns.message.make_query(name, rdtype), where[0], port=where[1], timeout=3)
    values = sorted(r.to_text() for rrset in reply.answer for r in rrset)
    return dns.rcode.to_text(reply.rcode()), values, reply.answer[0].ttl if reply.answer else None


def register(cloud: LocalCloud, service_id: str, instance_id: str, ipv6: str) -> None:
    cloud.client("servicediscovery").register_instance(ServiceId=service_id, InstanceId=instance_id,
                                                       Attributes={"AWS_INSTANCE_IPV6": ipv6})


def dns_change(cloud: LocalCloud, name: str, since: int, values: list[str]) -> Any:
    return cloud.events.wait_for(DNS_EVENT, name + ".", since=since, timeout=10,
                                 where=lambda e: e.detail["values"] == {"AAAA": values})


def delay(cloud: LocalCloud, key: str) -> float:
    return cloud.profile.delay(key).low


def test_the_stack_makes_a_namespace_with_a_private_zone_in_its_vpc(cloud: LocalCloud, deployed: Deployed) -> None:
    sd, route53 = cloud.client("servicediscovery"), cloud.client("route53")
    outputs = deployed.outputs

    namespace = sd.get_namespace(Id=outputs["NamespaceId"])["Namespace"]
    service = sd.get_service(Id=outputs["ServiceId"])["Service"]
    zone = route53.get_hosted_zone(Id=outputs["ZoneId"])
    soa = [r for r in route53.list_resource_record_sets(HostedZoneId=outputs["ZoneId"])["ResourceRecordSets"]
           if r["Type"] == "SOA"]

    assert (namespace["Name"], namespace["Type"], namespace["Arn"]) == (deployed.namespace, "DNS_PRIVATE",
                                                                         outputs["NamespaceArn"])
    assert namespace["Properties"]["DnsProperties"]["HostedZoneId"] == outputs["ZoneId"]
    assert outputs["NamespaceId"] in [n["Id"] for n in sd.list_namespaces()["Namespaces"]]
    assert (service["Name"], outputs["ServiceName"], service["NamespaceId"]) == ("origin", "origin",
                                                                                  outputs["NamespaceId"])
    assert service["DnsConfig"]["DnsRecords"] == [{"Type": "AAAA", "TTL": 30}]
    assert zone["HostedZone"]["Name"] == deployed.namespace + "."
    assert zone["HostedZone"]["Config"]["PrivateZone"] is True
    assert [v["VPCId"] for v in zone["VPCs"]] == [outputs["VpcId"]]
    assert soa[0]["TTL"] == 15


def test_a_registration_answers_on_the_vpc_listener_only_after_propagation(cloud: LocalCloud,
                                                                           deployed: Deployed) -> None:
    service_id, mark = deployed.outputs["ServiceId"], len(cloud.events)

    register(cloud, service_id, "i-first", "::ffff:127.5.0.10")
    before = ask(deployed.inside, deployed.name)
    changed = dns_change(cloud, deployed.name, mark, ["::ffff:127.5.0.10"])
    after, outside = ask(deployed.inside, deployed.name), ask(authoritative(cloud).address, deployed.name)
    registered = cloud.events.find(REGISTER_EVENT, "i-first", since=mark)[0]
    records = cloud.client("route53").list_resource_record_sets(
        HostedZoneId=deployed.outputs["ZoneId"])["ResourceRecordSets"]

    assert before[0] == "NXDOMAIN"
    assert after == ("NOERROR", ["::ffff:127.5.0.10"], 30)
    assert outside[0] == "REFUSED"
    assert changed.at - registered.at >= delay(cloud, "route53.change_insync") - SLACK
    assert registered.detail["addresses"] == {"ipv6": "::ffff:127.5.0.10"}
    assert registered.detail["change_id"] == changed.detail["change_id"]
    assert [(r["Name"], r["SetIdentifier"], r["MultiValueAnswer"], r["ResourceRecords"]) for r in records
            if r["Type"] == "AAAA"] == [(deployed.name + ".", "i-first", True, [{"Value": "::ffff:127.5.0.10"}])]


def test_reregistering_switches_the_address_and_deregistering_removes_it(cloud: LocalCloud,
                                                                         deployed: Deployed) -> None:
    service_id, sd = deployed.outputs["ServiceId"], cloud.client("servicediscovery")
    mark = len(cloud.events)
    register(cloud, service_id, "i-a", "::ffff:127.5.0.11")
    dns_change(cloud, deployed.name, mark, ["::ffff:127.5.0.11"])

    register(cloud, service_id, "i-a", "::ffff:127.5.0.12")
    dns_change(cloud, deployed.name, mark, ["::ffff:127.5.0.12"])
    switched = ask(deployed.inside, deployed.name)
    register(cloud, service_id, "i-b", "::ffff:127.5.0.13")
    dns_change(cloud, deployed.name, mark, ["::ffff:127.5.0.12", "::ffff:127.5.0.13"])
    both = ask(deployed.inside, deployed.name)
    sd.deregister_instance(ServiceId=service_id, InstanceId="i-a")
    dns_change(cloud, deployed.name, mark, ["::ffff:127.5.0.13"])
    one = ask(deployed.inside, deployed.name)
    sd.deregister_instance(ServiceId=service_id, InstanceId="i-b")
    dns_change(cloud, deployed.name, mark, [])
    none = ask(deployed.inside, deployed.name)

    assert switched == ("NOERROR", ["::ffff:127.5.0.12"], 30)
    assert both[1] == ["::ffff:127.5.0.12", "::ffff:127.5.0.13"]
    assert one[1] == ["::ffff:127.5.0.13"]
    assert none[0] == "NXDOMAIN"
    assert [i["Id"] for i in sd.list_instances(ServiceId=service_id)["Instances"]] == []
    deregistered = cloud.events.find(DEREGISTER_EVENT, "i-a", since=mark)[0]
    assert deregistered.detail["addresses"] == {"ipv6": "::ffff:127.5.0.12"}


def test_custom_health_unhealthy_removes_the_address_after_the_delay(cloud: LocalCloud,
                                                                     deployed: Deployed) -> None:
    service_id, sd = deployed.outputs["ServiceId"], cloud.client("servicediscovery")
    mark = len(cloud.events)
    register(cloud, service_id, "i-sick", "::ffff:127.5.0.20")
    register(cloud, service_id, "i-well", "::ffff:127.5.0.21")
    dns_change(cloud, deployed.name, mark, ["::ffff:127.5.0.20", "::ffff:127.5.0.21"])

    asked = time.time()
    sd.update_instance_custom_health_status(ServiceId=service_id, InstanceId="i-sick", Status="UNHEALTHY")
    status_at_once = sd.get_instances_health_status(ServiceId=service_id)["Status"]["i-sick"]
    health = cloud.events.wait_for(HEALTH_EVENT, "i-sick", since=mark, timeout=10)
    removed = dns_change(cloud, deployed.name, mark, ["::ffff:127.5.0.21"])
    without = ask(deployed.inside, deployed.name)
    sd.update_instance_custom_health_status(ServiceId=service_id, InstanceId="i-sick", Status="HEALTHY")
    dns_change(cloud, deployed.name, removed.seq, ["::ffff:127.5.0.20", "::ffff:127.5.0.21"])
    restored = ask(deployed.inside, deployed.name)

    assert status_at_once == "HEALTHY"
    assert health.detail["status"] == "UNHEALTHY"
    assert health.at - asked >= delay(cloud, "cloud_map.custom_health_delay") - SLACK
    assert removed.at - health.at >= delay(cloud, "route53.change_insync") - SLACK
    assert without[1] == ["::ffff:127.5.0.21"]
    assert restored[1] == ["::ffff:127.5.0.20", "::ffff:127.5.0.21"]
    assert sd.get_instances_health_status(ServiceId=service_id)["Status"]["i-sick"] == "HEALTHY"


def test_a_namespace_with_services_and_a_service_with_instances_refuse_deletion(cloud: LocalCloud,
                                                                                deployed: Deployed) -> None:
    sd = cloud.client("servicediscovery")
    register(cloud, deployed.outputs["ServiceId"], "i-stays", "::ffff:127.5.0.30")

    with pytest.raises(botocore.exceptions.ClientError, match="ResourceInUse"):
        sd.delete_namespace(Id=deployed.outputs["NamespaceId"])
    with pytest.raises(botocore.exceptions.ClientError, match="ResourceInUse"):
        sd.delete_service(Id=deployed.outputs["ServiceId"])


def test_deleting_the_stack_removes_service_namespace_and_zone(cloud: LocalCloud, deployed: Deployed) -> None:
    sd, route53 = cloud.client("servicediscovery"), cloud.client("route53")
    register(cloud, deployed.outputs["ServiceId"], "i-left", "::ffff:127.5.0.40")
    mark = len(cloud.events)

    cloud.client("cloudformation").delete_stack(StackName=deployed.stack)
    gone = cloud.events.wait_for("localcloud.route53.zone", deployed.namespace + ".", since=mark, timeout=10,
                                 where=lambda e: e.detail["action"] == "DELETE")

    assert cloud.client("cloudformation").describe_stacks(StackName=deployed.stack_id)["Stacks"][0][
        "StackStatus"] == "DELETE_COMPLETE"
    assert deployed.outputs["NamespaceId"] not in [n["Id"] for n in sd.list_namespaces()["Namespaces"]]
    assert deployed.outputs["ServiceId"] not in [s["Id"] for s in sd.list_services()["Services"]]
    with pytest.raises(botocore.exceptions.ClientError, match="NoSuchHostedZone"):
        route53.get_hosted_zone(Id=deployed.outputs["ZoneId"])
    assert gone.detail["private"] is True
    assert ask(deployed.inside, deployed.name)[0] == "REFUSED"


def test_a_status_repeated_within_the_delay_replaces_the_first_without_moving_the_deadline(
        cloud: LocalCloud, deployed: Deployed) -> None:
    service_id, sd = deployed.outputs["ServiceId"], cloud.client("servicediscovery")
    mark = len(cloud.events)
    register(cloud, service_id, "i-flap", "::ffff:127.5.0.50")
    dns_change(cloud, deployed.name, mark, ["::ffff:127.5.0.50"])
    wait = delay(cloud, "cloud_map.custom_health_delay")

    asked = time.time()
    sd.update_instance_custom_health_status(ServiceId=service_id, InstanceId="i-flap", Status="UNHEALTHY")
    sd.update_instance_custom_health_status(ServiceId=service_id, InstanceId="i-flap", Status="HEALTHY")
    time.sleep(wait * 0.5)
    sd.update_instance_custom_health_status(ServiceId=service_id, InstanceId="i-flap", Status="UNHEALTHY")
    health = cloud.events.wait_for(HEALTH_EVENT, "i-flap", since=mark, timeout=10)

    assert health.detail["status"] == "UNHEALTHY"
    assert wait - SLACK <= health.at - asked < wait * 1.5
