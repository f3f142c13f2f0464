"""Deprecated shim: the data model lives in ``umi_lab.protocol.dialogue`` (removed after the merge)."""

from umi_lab.protocol.dialogue import *  # noqa: F401,F403
from umi_lab.protocol.dialogue import DECISIONS, TURN_ROLES  # noqa: F401
