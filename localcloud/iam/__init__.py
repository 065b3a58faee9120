"""IAM for what runs inside a stack: role credentials issued to instances and functions, and the evaluation of
their calls against the role's identity policies (see docs/localcloud.md, "IAM for what runs inside a stack")."""

from localcloud.iam.credentials import CredentialRegistry, Credentials, Principal
from localcloud.iam.enforcer import IamEnforcer

__all__ = ["CredentialRegistry", "Credentials", "IamEnforcer", "Principal"]
