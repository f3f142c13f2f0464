"""ToolWorld: an offline, seeded, executable tool environment with gold trajectories and a success checker.

>>> from umi_lab.toolworld import ToolWorld
>>> ToolWorld(seed=0).tool_docs("units")[0].Name
'convert_length_for_unitconv'
"""

from umi_lab.toolworld.env import ToolWorld, ToolWorldEnv
from umi_lab.toolworld.success import SuccessResult, check_success

__all__ = ["ToolWorld", "ToolWorldEnv", "SuccessResult", "check_success"]
