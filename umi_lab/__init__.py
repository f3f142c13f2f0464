"""umi-lab: a small library behind notebooks for multi-LLM tool-learning agents (alpha-UMi).

Data flows one way: sources -> trajectories -> role datasets -> training -> adapters -> agent ->
recorded trajectories -> evaluation -> tables, plots and replay. Each stage is one module.
"""

__version__ = "0.1.0"
