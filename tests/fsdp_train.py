"""Full fine-tuning of the embedded model with its decoder layers sharded by FSDP (torch ``fully_shard``,
FSDP2, the wrap the shipped accelerate config names), on CPU with gloo:

    torchrun --nproc_per_node 2 tests/fsdp_train.py MODEL DIALOGUES OUT     # sharded over 2 processes
    python tests/fsdp_train.py MODEL DIALOGUES OUT                          # the one-process reference

Both see the same global batches (each process takes its half) built by the library's splitter and
tokenisation (``split_roles`` → ``encode_sample``, the backbone role), and both minimise the mean token loss of
the global batch, so the losses must agree. Rank 0 writes ``OUT/world<N>.json``: losses and shard sizes.

Why not through ``SFTTrainer(fsdp=...)``: accelerate 1.15 enables its FSDP plugin only for GPU-like
distributed types; on CPU (``MULTI_CPU``) the plugin is ignored and the Trainer runs plain DDP
(``accelerate/state.py``, ``PartialState``/``AcceleratorState`` setup). See docs/training.md.
"""

import json
import os
import sys
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F

from umi_lab.backbone import load_tokenizer
from umi_lab.io import read_records
from umi_lab.protocol.prompts import PromptStyle
from umi_lab.splitting import split_roles
from umi_lab.training import encode_sample

STEPS, GLOBAL_BATCH, MAX_LENGTH = 4, 4, 160


def global_batches(model: str, dialogues: str) -> list[dict[str, torch.Tensor]]:
    tokenizer = load_tokenizer(model)
    samples = split_roles(read_records(dialogues)[:8])["backbone"][: STEPS * GLOBAL_BATCH]
    rows = [encode_sample(s, tokenizer, style=PromptStyle(), max_length=MAX_LENGTH)[0] for s in samples]
    out = []
    for i in range(0, len(rows), GLOBAL_BATCH):
        chunk = rows[i:i + GLOBAL_BATCH]
        width = max(len(r["input_ids"]) for r in chunk)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        out.append({
            "input_ids": torch.tensor([r["input_ids"] + [pad] * (width - len(r["input_ids"])) for r in chunk]),
            "attention_mask": torch.tensor([[1] * len(r["input_ids"]) + [0] * (width - len(r["input_ids"]))
                                            for r in chunk]),
            "labels": torch.tensor([r["labels"] + [-100] * (width - len(r["labels"])) for r in chunk]),
        })
    return out


def main(model_dir: str, dialogues: str, out: str) -> None:
    from transformers import AutoModelForCausalLM

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:
        dist.init_process_group("gloo")
    rank = dist.get_rank() if world > 1 else 0
    batches = global_batches(model_dir, dialogues)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    full_params = sum(p.numel() for p in model.parameters())
    layer_class = type(model.model.layers[0]).__name__
    if world > 1:
        from torch.distributed.device_mesh import init_device_mesh
        from torch.distributed.fsdp import fully_shard

        mesh = init_device_mesh("cpu", (world,))
        for layer in model.model.layers:            # transformer layer wrap: LlamaDecoderLayer
            fully_shard(layer, mesh=mesh)
        fully_shard(model, mesh=mesh)
    local_params = sum((p.to_local() if hasattr(p, "to_local") else p).numel() for p in model.parameters())
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    losses = []
    for batch in batches:
        part = {k: v[rank * GLOBAL_BATCH // world:(rank + 1) * GLOBAL_BATCH // world] for k, v in batch.items()}
        logits = model(input_ids=part["input_ids"], attention_mask=part["attention_mask"]).logits
        labels = part["labels"][:, 1:]
        loss_sum = F.cross_entropy(logits[:, :-1].reshape(-1, logits.size(-1)), labels.reshape(-1),
                                   ignore_index=-100, reduction="sum")
        tokens = (batch["labels"][:, 1:] != -100).sum()
        (loss_sum / tokens * world).backward()       # FSDP averages gradients over the processes
        optimizer.step()
        optimizer.zero_grad()
        total = loss_sum.detach().clone()
        if world > 1:
            dist.all_reduce(total)
        losses.append((total / tokens).item())
    if rank == 0:
        Path(out).mkdir(parents=True, exist_ok=True)
        Path(out, f"world{world}.json").write_text(json.dumps({
            "world_size": world, "losses": losses, "layer_class": layer_class,
            "wrapped_class": type(model.model.layers[0]).__name__,
            "full_params": full_params, "local_params": local_params,
            "sharded": any(type(p).__name__ == "DTensor" for p in model.parameters())}))
    if world > 1:
        dist.destroy_process_group()


if __name__ == "__main__":
    main(*sys.argv[1:])
    # Leave without C++ static destructors: gloo's transport threads can still be joinable when the
    # interpreter tears down, and libstdc++ then aborts ("terminate called without an active exception",
    # SIGABRT) after the work is done and written, failing the launcher for nothing.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
