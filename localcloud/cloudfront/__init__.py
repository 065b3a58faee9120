"""CloudFront for localcloud: distributions from CloudFormation, each an edge on its own loopback address
whose domain name the cloud's DNS answers (see edge.py for the request path)."""

from localcloud.cloudfront.config import DistributionConfig, parse
from localcloud.cloudfront.edge import Edge
from localcloud.cloudfront.service import CloudFrontService

__all__ = ["CloudFrontService", "DistributionConfig", "Edge", "parse"]
