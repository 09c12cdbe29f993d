"""ARN parsing: ``arn:partition:service:region:account:resource``.

The resource part is everything after the fifth colon and may itself hold ``:`` and ``/``.
IAM and STS identity ARNs get small helpers here because principal matching needs their parts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PARTITIONS = frozenset({"aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f"})
ACCOUNT_ID = re.compile(r"\d{12}")


@dataclass(frozen=True, slots=True)
class Arn:
    partition: str
    service: str
    region: str
    account: str
    resource: str

    def __str__(self) -> str:
        return f"arn:{self.partition}:{self.service}:{self.region}:{self.account}:{self.resource}"

    @property
    def resource_type(self) -> str:
        """``user`` for ``user/path/name``; the text before the first ``/`` (or ``:``)."""
        for i, ch in enumerate(self.resource):
            if ch in "/:":
                return self.resource[:i]
        return self.resource

    @property
    def resource_name(self) -> str:
        """The last ``/`` segment of the resource part (an IAM entity's name)."""
        return self.resource.rsplit("/", 1)[-1]


def parse_arn(text: str) -> Arn | None:
    """Split an ARN into its six parts, or None when it is not one."""
    if not text.startswith("arn:"):
        return None
    parts = text.split(":", 5)
    if len(parts) < 6:
        return None
    return Arn(parts[1], parts[2], parts[3], parts[4], parts[5])


def is_account_id(text: str) -> bool:
    return len(text) == 12 and text.isdigit() and text.isascii()


def root_arn(partition: str, account: str) -> str:
    return f"arn:{partition}:iam::{account}:root"
