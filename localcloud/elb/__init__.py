"""ELBv2 for localcloud: Application Load Balancers with target health, fed by ECS tasks (see service.py)."""

from localcloud.elb.alb import HealthCheck, LoadBalancer, Target, TargetGroup
from localcloud.elb.service import ContainerService

__all__ = ["ContainerService", "HealthCheck", "LoadBalancer", "Target", "TargetGroup"]
