"""The two facts moto's template engine asks every resource type for, declared as class attributes.

Mix `Typed` in before `CloudFormationModel` (`class X(Typed, CloudFormationModel)`): moto lists only the
direct subclasses of CloudFormationModel (`__subclasses__()`), so every type must still name it itself;
a mixin that is not a CloudFormationModel keeps them direct.
"""

from __future__ import annotations

from typing import ClassVar


class Typed:
    CFN_TYPE: ClassVar[str]  # e.g. "AWS::EC2::EIPAssociation"
    CFN_NAME_PROPERTY: ClassVar[str] = ""  # the property that names the resource; "" when none does

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.CFN_TYPE

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return cls.CFN_NAME_PROPERTY
