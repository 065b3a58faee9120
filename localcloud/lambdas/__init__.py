"""Lambda functions that really run: Python handlers in a child process, invoked directly or by SNS."""

from localcloud.lambdas.service import LambdaService

__all__ = ["LambdaService"]
