"""The origin-group kit: a CloudFront distribution whose origin group fails over from a primary S3 bucket to
a replica bucket in another region, per request."""

from __future__ import annotations

from gameday.kits.blocks.template_kit import TemplateKit
from gameday.kits.origin_group.deploy import PARTS, STACK, empty_buckets, seed_site
from gameday.kits.origin_group.scenarios import SCENARIOS

KIT = TemplateKit(STACK, "a CloudFront origin group: primary S3 bucket, replica bucket in another region",
                  PARTS, SCENARIOS, prepare=seed_site, cleanup=empty_buckets)
