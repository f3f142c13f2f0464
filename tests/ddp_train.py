"""Two-process data-parallel training of the same entry point; run with
``torchrun --nproc_per_node 2 tests/ddp_train.py MODEL DATA OUT [METHOD]`` (CPU: gloo)."""

import json
import os
import sys

import torch.distributed as dist

from umi_lab.training import GLPFTConfig, train


def main(model: str, data: str, out: str, method: str = "single_llm") -> None:
    config = GLPFTConfig(method=method, model=model, data=data, out=out, schedule="tiny", smoke=True,
                         schedule_overrides={"backbone": {"max_steps": 4}})
    run = train(config, progress=False)
    world = dist.get_world_size() if dist.is_initialized() else 1
    rank = int(os.environ.get("RANK", "0"))
    with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
        json.dump({"rank": rank, "world_size": world, "run": str(run)}, f)


if __name__ == "__main__":
    main(*sys.argv[1:])
