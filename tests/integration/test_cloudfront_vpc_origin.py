"""A CloudFront VPC origin on localcloud: the edge resolves a private-zone AAAA through its VPC's listener,
keeps the answer for its TTL, follows an UPSERT only once that TTL is over, and fails over to the
maintenance page when the name points at nothing that answers."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import dns.message
import dns.query
import dns.rcode
import pytest

from localcloud import LocalCloud
from tests.localcloud.support import http_get, tiny_profile

pytestmark = pytest.mark.integration

TTL = 5  # seconds, honoured as written (the edge does not scale a record's TTL); an UPSERT on a busy machine
# lands 2-3 s after the edge's lookup, still well inside it
PROPAGATION = 0.1  # Route 53 change propagation, seconds: short, so a change lands well inside one TTL
SLACK = 0.5  # timers, one poll interval, a request on two busy cores
# A path both origins hold: an instance's app serves `/` and `/health`, and S3 has no object at `/`.
PATH = "/health"

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  ZoneName: {Type: String}
  RecordTtl: {Type: Number}
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties: {CidrBlock: 10.20.0.0/16}
  Subnet:
    Type: AWS::EC2::Subnet
    Properties: {VpcId: !Ref Vpc, CidrBlock: 10.20.1.0/24}
  Origin:
    Type: AWS::EC2::Instance
    Properties: {ImageId: ami-12345678, InstanceType: t3.micro, SubnetId: !Ref Subnet}
  PrivateZone:
    Type: AWS::Route53::HostedZone
    Properties:
      Name: !Sub "internal.${ZoneName}"
      VPCs: [{VPCId: !Ref Vpc, VPCRegion: !Ref "AWS::Region"}]
  OriginRecord:
    Type: AWS::Route53::RecordSet
    Properties:
      HostedZoneId: !Ref PrivateZone
      Name: !Sub "origin.internal.${ZoneName}."
      Type: AAAA
      TTL: !Ref RecordTtl
      ResourceRecords: [!Sub "::ffff:${Origin.PrivateIp}"]
  VpcOrigin:
    Type: AWS::CloudFront::VpcOrigin
    Properties:
      VpcOriginEndpointConfig:
        Name: !Sub "${AWS::StackName}-origin"
        Arn: !Sub "arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:instance/${Origin}"
        HTTPPort: 80
        HTTPSPort: 443
        OriginProtocolPolicy: http-only
  MaintenanceBucket:
    Type: AWS::S3::Bucket
  OriginAccessControl:
    Type: AWS::CloudFront::OriginAccessControl
    Properties:
      OriginAccessControlConfig:
        Name: !Sub "${AWS::StackName}-oac"
        OriginAccessControlOriginType: s3
        SigningBehavior: always
        SigningProtocol: sigv4
  Distribution:
    Type: AWS::CloudFront::Distribution
    Properties:
      DistributionConfig:
        Enabled: true
        Origins:
          - Id: vpc-origin
            DomainName: !Sub "origin.internal.${ZoneName}"
            ConnectionAttempts: 1
            ConnectionTimeout: 5
            VpcOriginConfig:
              VpcOriginId: !GetAtt VpcOrigin.Id
              OriginReadTimeout: 30
              OriginKeepaliveTimeout: 5
          - Id: maintenance-s3
            DomainName: !GetAtt MaintenanceBucket.RegionalDomainName
            S3OriginConfig: {OriginAccessIdentity: ""}
            OriginAccessControlId: !GetAtt OriginAccessControl.Id
        OriginGroups:
          Quantity: 1
          Items:
            - Id: origin-or-maintenance
              FailoverCriteria: {StatusCodes: {Quantity: 4, Items: [500, 502, 503, 504]}}
              Members: {Quantity: 2, Items: [{OriginId: vpc-origin}, {OriginId: maintenance-s3}]}
        DefaultCacheBehavior:
          TargetOriginId: origin-or-maintenance
          ViewerProtocolPolicy: allow-all
          AllowedMethods: [GET, HEAD, OPTIONS]
          CachePolicyId: 4135ea2d-6df8-44a3-9df3-4b5a84be39ad  # managed CachingDisabled: every request a miss
  MaintenanceBucketPolicy:
    Type: AWS::S3::BucketPolicy
    Properties:
      Bucket: !Ref MaintenanceBucket
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {Service: cloudfront.amazonaws.com}
            Action: s3:GetObject
            Resource: !Sub "${MaintenanceBucket.Arn}/*"
            Condition:
              StringEquals:
                "AWS:SourceArn": !Sub "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${Distribution}"
Outputs:
  VpcId: {Value: !Ref Vpc}
  SubnetId: {Value: !Ref Subnet}
  InstanceId: {Value: !Ref Origin}
  ZoneId: {Value: !Ref PrivateZone}
  VpcOriginId: {Value: !GetAtt VpcOrigin.Id}
  VpcOriginArn: {Value: !GetAtt VpcOrigin.Arn}
  DistributionId: {Value: !Ref Distribution}
  DistributionDomainName: {Value: !GetAtt Distribution.DomainName}
  BucketName: {Value: !Ref MaintenanceBucket}
"""


@dataclass(frozen=True)
class Stack:
    cloud: LocalCloud
    outputs: dict[str, str]
    name: str  # origin.internal.<zone>
    edge: str  # the distribution's edge address
    first: str  # instance ids
    second: str

    def address_of(self, instance_id: str) -> str:
        found = self.cloud.client("ec2").describe_instances(InstanceIds=[instance_id])
        return "::ffff:" + found["Reservations"][0]["Instances"][0]["PrivateIpAddress"]

    def point_at(self, address: str) -> float:
        """UPSERT the AAAA; returns when the VPC's listener answers it (monotonic)."""
        self.cloud.client("route53").change_resource_record_sets(
            HostedZoneId=self.outputs["ZoneId"], ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": {
                "Name": self.name + ".", "Type": "AAAA", "TTL": TTL, "ResourceRecords": [{"Value": address}]}}]})
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if vpc_answer(self) == [address]:
                return time.monotonic()
            time.sleep(0.02)
        raise AssertionError(f"the VPC listener never answered {address}")

    def get(self) -> dict[str, str]:
        status, headers, body = http_get(self.edge, PATH, timeout=10)
        return {"status": str(status), "body": body.decode(errors="replace"), **headers}


def query(server: tuple[str, int], name: str) -> dns.message.Message:
    return dns.query.udp(dns.message.make_query(name + ".", "AAAA"), server[0], port=server[1], timeout=2)


def vpc_answer(stack: Stack) -> list[str]:
    server = vpc_listener(stack)
    reply = query(server, stack.name)
    return [rdata.to_text() for rrset in reply.answer for rdata in rrset]


def vpc_listener(stack: Stack) -> tuple[str, int]:
    facts = stack.cloud.service("authoritative").describe()["vpc_listeners"][stack.outputs["VpcId"]]
    return str(facts["host"]), int(facts["port"])


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    # The template's 5 s connection timeout would be 50 ms at the tiny scale: a busy machine misses it and the edge
    # fails over. At 1 s for AWS's 10 s (0.5 s for the template's 5 s) a live origin always answers in time.
    profile = tiny_profile(tmp_path_factory.mktemp("profile"), route53__change_insync=PROPAGATION,
                           cloudfront__connection_timeout=1.0)
    with LocalCloud(profile, seed=5) as cloud:
        cfn = cloud.client("cloudformation")
        zone = "vo.gameday.test"
        cfn.create_stack(StackName="vo", TemplateBody=TEMPLATE, Parameters=[
            {"ParameterKey": "ZoneName", "ParameterValue": zone},
            {"ParameterKey": "RecordTtl", "ParameterValue": str(TTL)}])
        described = cfn.describe_stacks(StackName="vo")["Stacks"][0]
        assert described["StackStatus"] == "CREATE_COMPLETE", described.get("StackStatusReason")
        outputs = {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}
        cloud.client("s3").put_object(Bucket=outputs["BucketName"], Key=PATH.lstrip("/"),
                                      Body=b"Maintenance: back soon.\n", ContentType="text/html")
        second = cloud.client("ec2").run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1,
                                                   SubnetId=outputs["SubnetId"])["Instances"][0]["InstanceId"]
        for instance_id in (outputs["InstanceId"], second):
            cloud.events.wait_for("localcloud.instance.booted", instance_id, timeout=30)
        answer = cloud.aliases.resolve(outputs["DistributionDomainName"], "A")
        assert answer is not None
        yield Stack(cloud, outputs, f"origin.internal.{zone}", answer.values[0], outputs["InstanceId"], second)


def test_the_vpc_origin_is_bound_to_the_instance_s_vpc(stack: Stack) -> None:
    created = stack.cloud.events.wait_for("localcloud.cloudfront.vpc_origin", stack.outputs["VpcOriginId"])

    assert created.detail["vpc_id"] == stack.outputs["VpcId"] and created.detail["vpc_from"] == "instance"
    assert stack.outputs["VpcOriginArn"].endswith(f":vpcorigin/{stack.outputs['VpcOriginId']}")


def test_the_private_name_answers_only_on_the_vpc_listener(stack: Stack) -> None:
    public = stack.cloud.service("authoritative").describe()

    outside = query((public["host"], public["port"]), stack.name)

    assert dns.rcode.to_text(outside.rcode()) == "REFUSED" and not outside.answer
    assert vpc_answer(stack) == [stack.address_of(stack.first)]


def test_the_edge_serves_from_the_instance_the_record_names(stack: Stack) -> None:
    got = stack.get()

    assert got["status"] == "200" and got["x-served-by"] == "vpc-origin"
    assert got["x-localcloud-origin-served-by"] == stack.first
    assert got["x-localcloud-origin-address"] == stack.address_of(stack.first)
    assert got["body"] == "ok\n"


def test_an_upsert_reaches_the_edge_only_when_the_old_answer_s_ttl_is_over(stack: Stack) -> None:
    first, second = stack.address_of(stack.first), stack.address_of(stack.second)
    stack.point_at(first)
    time.sleep(TTL + 0.2)  # whatever the edge cached has expired: the next request looks the name up
    mark = len(stack.cloud.events)
    looked_up = time.monotonic()
    assert stack.get()["x-localcloud-origin-served-by"] == stack.first

    published = stack.point_at(second)
    samples: list[tuple[float, float, str]] = []  # (sent, answered, instance)
    while time.monotonic() < looked_up + TTL + 2:
        sent = time.monotonic()
        served = stack.get()["x-localcloud-origin-served-by"]
        samples.append((sent, time.monotonic(), served))
        time.sleep(0.05)

    switch = next(i for i, (_, _, served) in enumerate(samples) if served == stack.second)
    assert published < looked_up + TTL - 1  # the authoritative answer changed well inside the TTL ...
    assert switch > 0 and all(served == stack.first for _, _, served in samples[:switch])  # ... the edge did not
    assert samples[switch][1] >= looked_up + TTL  # it looked the name up again only once the TTL was over
    assert samples[switch][0] <= looked_up + TTL + SLACK  # and at once then
    assert all(served == stack.second for _, _, served in samples[switch:])
    change = stack.cloud.events.wait_for("localcloud.cloudfront.origin_dns", stack.outputs["DistributionId"],
                                         since=mark, where=lambda e: e.detail["addresses"] == [second])
    assert change.detail["previous"] == [first] and change.detail["ttl"] == TTL


def test_a_record_pointing_at_nothing_fails_over_to_the_maintenance_page(stack: Stack) -> None:
    nowhere = "::ffff:" + stack.cloud.pool.allocate("nothing listens here")
    stack.point_at(nowhere)

    got = wait_until_served_by(stack, "maintenance-s3", within=TTL + 1)

    assert got["status"] == "200" and got["body"] == "Maintenance: back soon.\n"
    assert got["x-localcloud-failover"] == "vpc-origin:connect-failed"


def test_a_terminated_instance_fails_over_to_the_maintenance_page(stack: Stack) -> None:
    stack.point_at(stack.address_of(stack.second))
    assert wait_until_served_by(stack, "vpc-origin", within=TTL + 1)["x-localcloud-origin-served-by"] == stack.second

    stack.cloud.client("ec2").terminate_instances(InstanceIds=[stack.second])
    stack.cloud.events.wait_for("localcloud.instance.terminated", stack.second, timeout=10)
    got = stack.get()

    assert got["status"] == "200" and got["x-served-by"] == "maintenance-s3"
    assert got["x-localcloud-failover"] == "vpc-origin:connect-failed"


def test_a_deleted_record_fails_over_as_a_dns_failure(stack: Stack) -> None:
    current = vpc_answer(stack)
    stack.cloud.client("route53").change_resource_record_sets(
        HostedZoneId=stack.outputs["ZoneId"], ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": {
            "Name": stack.name + ".", "Type": "AAAA", "TTL": TTL, "ResourceRecords": [{"Value": current[0]}]}}]})

    got = wait_until(stack, lambda r: r.get("x-localcloud-failover") == "vpc-origin:dns-failed", within=TTL + 2)

    assert got["status"] == "200" and got["x-served-by"] == "maintenance-s3"
    missing = stack.cloud.events.find("localcloud.cloudfront.origin_dns", stack.outputs["DistributionId"])[-1]
    assert missing.detail["rcode"] == "NXDOMAIN" and missing.detail["addresses"] == []


def wait_until_served_by(stack: Stack, origin_id: str, within: float) -> dict[str, str]:
    return wait_until(stack, lambda r: r.get("x-served-by") == origin_id, within)


def wait_until(stack: Stack, wanted: Callable[[dict[str, str]], bool], within: float) -> dict[str, str]:
    deadline = time.monotonic() + within
    got = stack.get()
    while not wanted(got):
        assert time.monotonic() < deadline, f"still {got}"
        time.sleep(0.05)
        got = stack.get()
    return got
