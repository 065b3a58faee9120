"""Reading an API request as IAM does: the signer, the operation (from each protocol), the action, the parameters."""

from __future__ import annotations

import json

import pytest

from localcloud.iam.request import Signer, parse_call, signer_of

AUTH = ("AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20260101/eu-west-1/{service}/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=abc")


def test_the_signer_comes_from_the_authorization_header_or_a_presigned_url() -> None:
    header = signer_of({"HTTP_AUTHORIZATION": AUTH.format(service="ec2")})
    presigned = signer_of({"QUERY_STRING": "X-Amz-Credential=ASIAQ%2F20260101%2Fus-east-1%2Fs3%2Faws4_request"})

    assert header == Signer("ASIAEXAMPLE", "eu-west-1", "ec2")
    assert presigned == Signer("ASIAQ", "us-east-1", "s3")
    assert signer_of({"HTTP_AUTHORIZATION": "AWS a:b"}) is None
    assert signer_of({}) is None


def test_query_and_ec2_requests_name_their_action_in_the_form() -> None:
    body = b"Action=AssociateAddress&Version=2016-11-15&AllocationId=eipalloc-1&InstanceId=i-1"
    environ = {"REQUEST_METHOD": "POST", "CONTENT_TYPE": "application/x-www-form-urlencoded; charset=utf-8"}

    ec2 = parse_call(environ, body, Signer("K", "us-east-1", "ec2"))
    sns = parse_call(environ, b"Action=Publish&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A1%3At",
                     Signer("K", "us-east-1", "sns"))

    assert (ec2.action, ec2.protocol, ec2.params["AllocationId"]) == ("ec2:AssociateAddress", "ec2", "eipalloc-1")
    assert (sns.action, sns.protocol, sns.params["TopicArn"]) == ("sns:Publish", "query", "arn:aws:sns:us-east-1:1:t")


def test_json_requests_name_their_operation_in_the_target_header() -> None:
    environ = {"REQUEST_METHOD": "POST", "HTTP_X_AMZ_TARGET": "Route53AutoNaming_v20170314.RegisterInstance"}

    call = parse_call(environ, json.dumps({"ServiceId": "srv-1"}).encode(), Signer("K", "us-east-1",
                                                                                   "servicediscovery"))

    assert (call.action, call.protocol, call.params["ServiceId"]) == (
        "servicediscovery:RegisterInstance", "json", "srv-1")


@pytest.mark.parametrize(("service", "method", "path", "query", "action", "params"), [
    ("route53", "POST", "/2013-04-01/hostedzone/Z1/rrset/", "", "route53:ChangeResourceRecordSets",
     {"HostedZoneId": "Z1"}),
    ("route53", "GET", "/2013-04-01/hostedzone/Z1/rrset", "name=a.&type=AAAA", "route53:ListResourceRecordSets",
     {"HostedZoneId": "Z1", "StartRecordName": "a.", "StartRecordType": "AAAA"}),
    ("route53", "GET", "/2013-04-01/change/C9", "", "route53:GetChange", {"Id": "C9"}),
    ("route53", "GET", "/2013-04-01/hostedzone", "", "route53:ListHostedZones", {}),
    ("s3", "GET", "/bucket/a/b.txt", "", "s3:GetObject", {"Bucket": "bucket", "Key": "a/b.txt"}),
    ("s3", "HEAD", "/bucket/a", "", "s3:GetObject", {"Bucket": "bucket", "Key": "a"}),
    ("s3", "GET", "/bucket", "list-type=2", "s3:ListBucket", {"Bucket": "bucket"}),
    ("s3", "PUT", "/bucket", "policy", "s3:PutBucketPolicy", {"Bucket": "bucket"}),
    ("s3", "GET", "/", "", "s3:ListAllMyBuckets", {}),
    ("lambda", "POST", "/2015-03-31/functions/follow/invocations", "", "lambda:InvokeFunction",
     {"FunctionName": "follow"}),
])
def test_rest_requests_are_matched_against_botocore_s_uris(service: str, method: str, path: str, query: str,
                                                          action: str, params: dict[str, str]) -> None:
    call = parse_call({"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query}, b"{\"FunctionName\": 1}",
                      Signer("K", "us-east-1", service))

    assert (call.action, dict(call.params)) == (action, params)


def test_a_rest_request_no_operation_matches_has_no_operation() -> None:
    call = parse_call({"REQUEST_METHOD": "PATCH", "PATH_INFO": "/nowhere"}, b"", Signer("K", "us-east-1", "route53"))

    assert call.operation == ""
