"""The dns-failover-fargate kit: app.<zone> is a Route 53 failover pair, an ALB in front of an ECS Fargate
service (health-checked) and a CloudFront + S3 page that says `Fallback.`."""

from __future__ import annotations

from gameday.kits.blocks.template_kit import TemplatePart, main_part
from gameday.kits.dns_failover_fargate.deploy import FargateKit, empty_fallback_bucket, parameters, put_fallback_page
from gameday.kits.dns_failover_fargate.scenarios import SCENARIOS, STACK

KIT = FargateKit(STACK, "an ECS Fargate service behind an ALB, failing over in DNS to a CloudFront + S3 page",
                 (TemplatePart(main_part(STACK, summary="VPC, ALB, ECS service, health check, failover records, "
                                                        "CloudFront + S3 fallback"), parameters),),
                 SCENARIOS, prepare=put_fallback_page, cleanup=empty_fallback_bucket)
