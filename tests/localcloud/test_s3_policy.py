from __future__ import annotations

import json

from localcloud.s3 import CLOUDFRONT_SERVICE, Caller, allowed, region_of_endpoint

DISTRIBUTION = "arn:aws:cloudfront::123456789012:distribution/E1"
OBJECT = "arn:aws:s3:::site/index.html"
OAC_POLICY = json.dumps({"Statement": [{
    "Sid": "AllowCloudFrontRead", "Effect": "Allow", "Principal": {"Service": CLOUDFRONT_SERVICE},
    "Action": "s3:GetObject", "Resource": "arn:aws:s3:::site/*",
    "Condition": {"StringEquals": {"AWS:SourceArn": DISTRIBUTION}}}]})


def test_the_distribution_named_in_the_policy_may_read() -> None:
    assert allowed(OAC_POLICY, "s3:GetObject", OBJECT, Caller(CLOUDFRONT_SERVICE, DISTRIBUTION))


def test_another_distribution_and_anonymous_callers_may_not() -> None:
    assert not allowed(OAC_POLICY, "s3:GetObject", OBJECT, Caller(CLOUDFRONT_SERVICE, DISTRIBUTION + "X"))
    assert not allowed(OAC_POLICY, "s3:GetObject", OBJECT, Caller())


def test_no_policy_allows_nothing_and_list_bucket_is_not_implied() -> None:
    assert not allowed(None, "s3:GetObject", OBJECT, Caller())
    assert not allowed(OAC_POLICY, "s3:ListBucket", "arn:aws:s3:::site", Caller(CLOUDFRONT_SERVICE, DISTRIBUTION))


def test_an_explicit_deny_wins_over_the_allow() -> None:
    document = json.loads(OAC_POLICY)
    document["Statement"].append({"Sid": "DenyAll", "Effect": "Deny", "Principal": "*",
                                  "NotAction": ["s3:GetBucketPolicy", "s3:PutBucketPolicy"],
                                  "Resource": ["arn:aws:s3:::site", "arn:aws:s3:::site/*"]})
    policy = json.dumps(document)

    assert not allowed(policy, "s3:GetObject", OBJECT, Caller(CLOUDFRONT_SERVICE, DISTRIBUTION))


def test_rest_endpoints_name_bucket_and_region() -> None:
    assert region_of_endpoint("site.s3.us-west-2.amazonaws.com") == ("site", "us-west-2")
    assert region_of_endpoint("site.s3.amazonaws.com") == ("site", "us-east-1")
    assert region_of_endpoint("d1.cloudfront.net") is None
