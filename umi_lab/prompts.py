"""Deprecated shim: prompts live in ``umi_lab.protocol.prompts`` (removed after the merge)."""

from umi_lab.protocol.prompts import *  # noqa: F401,F403
from umi_lab.protocol.prompts import (  # noqa: F401
    _DOCS_HEAD,
    _make_renderer,
    _parse_template,
)
