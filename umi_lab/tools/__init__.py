"""Tool environments behind one interface: ``registry.call(name, arguments_string) -> Observation``."""

from umi_lab.tools.registry import FunctionRegistry, Observation, ToolRegistry, ToolSpec

__all__ = ["FunctionRegistry", "Observation", "ToolRegistry", "ToolSpec"]
