"""S3's data plane for localcloud: objects served per region from moto, each region on its own loopback
address (so a region can be made unreachable), bucket policies enforced."""

from localcloud.s3.dataplane import S3DataPlane, region_of_endpoint
from localcloud.s3.policy import CLOUDFRONT_SERVICE, Caller, allowed

__all__ = ["CLOUDFRONT_SERVICE", "Caller", "S3DataPlane", "allowed", "region_of_endpoint"]
