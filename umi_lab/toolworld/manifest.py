"""The manifest that travels with a ToolWorld data folder, and where a run's ToolWorld data is.

``toolworld generate`` writes ``manifest.json`` beside the three split files: the world seed, the generator
version, the counts it was asked for and a fingerprint (SHA-256, bytes, dialogues) of every file. Whoever
reads the folder later (evaluation, the study, the replay) takes the world seed from the manifest, never
from a default, and ``verify`` refuses a folder whose files no longer match their fingerprints.

Where the data is (``resolve_toolworld``), first match wins:

1. a folder given explicitly (``evaluate --toolworld DIR``, ``EvalSettings.toolworld``);
2. the folder the run trained on: the run config's ``toolworld`` key, else its ``data`` folder when that is a
   ToolWorld folder, else the conversations its role datasets were split from (``split_report.json``);
3. ``$UMI_LAB_TOOLWORLD``;
4. the default data set (seed 0), generated once into ``$UMI_LAB_CACHE/toolworld/seed0-v<version>``
   (generation is bit-reproducible and takes about a second, so the package does not ship the 8.6 MB).

Example: ``data = resolve_toolworld(run_config=cfg); ToolWorld(data.world_seed); data.file("test_in_domain")``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from umi_lab.errors import DataError
from umi_lab.io import cache_root, read_json, write_json

MANIFEST_FILE = "manifest.json"
MANIFEST_KIND = "umi_lab.toolworld"
GENERATOR_VERSION = 1  # bump whenever generation changes a byte of the output for the same config
ENV_VAR = "UMI_LAB_TOOLWORLD"


@dataclass
class ToolWorldData:
    """A verified ToolWorld folder: ``path``, ``world_seed``, ``generator_version``, ``files``
    (name → fingerprint) and ``source`` (how it was found). Example: ``data.file("train")``."""

    path: Path
    world_seed: int
    generator_version: int
    files: dict[str, dict[str, Any]]
    source: str = "explicit"
    notes: list[str] = field(default_factory=list)

    def file(self, split: str) -> Path:
        """The file of a split (``train``, ``test_in_domain``, ``test_out_of_domain``)."""
        from umi_lab.toolworld.dataset import SPLIT_FILES

        name = SPLIT_FILES.get(split, split)
        if name not in self.files:
            raise DataError(f"the manifest lists no {name}", file=str(self.path / MANIFEST_FILE), field="files")
        return self.path / name

    def record(self) -> dict[str, Any]:
        """What an evaluation writes into its config: where, which seed, which generator, which bytes."""
        d = asdict(self)
        d["path"] = str(self.path)
        return d


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def make_manifest(folder: str | os.PathLike, config, counts: dict[str, int] | None = None) -> dict[str, Any]:
    """The manifest of the split files in ``folder`` generated with ``config`` (a ``GenerateConfig``).

    Example: ``make_manifest("data/toolworld", GenerateConfig(seed=0))["world_seed"]`` → 0.
    """
    from umi_lab.toolworld.dataset import SPLIT_FILES

    folder = Path(folder)
    files = {}
    for split, name in SPLIT_FILES.items():
        path = folder / name
        if path.is_file():
            files[name] = {"sha256": _sha256(path), "bytes": path.stat().st_size,
                           **({"dialogues": counts[split]} if counts and split in counts else {})}
    return {"kind": MANIFEST_KIND, "generator_version": GENERATOR_VERSION, "world_seed": config.seed,
            "config": asdict(config), "files": files}


def write_manifest(folder: str | os.PathLike, config, counts: dict[str, int] | None = None) -> Path:
    """Write ``folder/manifest.json`` (see ``make_manifest``); returns its path."""
    return write_json(Path(folder) / MANIFEST_FILE, make_manifest(folder, config, counts))


def read_manifest(folder: str | os.PathLike, *, verify: bool = True, source: str = "explicit") -> ToolWorldData:
    """Read (and by default verify) the manifest of a ToolWorld folder; errors name the file and field.

    Example: ``read_manifest("data/toolworld").world_seed`` → 0.
    """
    folder = Path(folder)
    path = folder / MANIFEST_FILE
    if not path.is_file():
        raise DataError(f"no {MANIFEST_FILE}: not a ToolWorld data folder, or written before manifests (write one "
                        f"with `python -m umi_lab toolworld manifest --seed S {folder}`)", file=str(path))
    m = read_json(path)
    if not isinstance(m, dict) or m.get("kind") != MANIFEST_KIND:
        raise DataError(f"expected an object with kind {MANIFEST_KIND!r}", file=str(path), field="kind")
    for key, typ in (("world_seed", int), ("generator_version", int), ("files", dict)):
        if not isinstance(m.get(key), typ) or isinstance(m.get(key), bool):
            raise DataError(f"missing or not {typ.__name__}", file=str(path), field=key)
    data = ToolWorldData(folder, m["world_seed"], m["generator_version"], m["files"], source)
    if verify:
        verify_files(data)
    return data


def verify_files(data: ToolWorldData) -> None:
    """Check every listed file against its fingerprint; a changed or missing file is a ``DataError``."""
    for name, fp in data.files.items():
        path = data.path / name
        if not isinstance(fp, dict) or not isinstance(fp.get("sha256"), str):
            raise DataError("expected a fingerprint with sha256", file=str(data.path / MANIFEST_FILE),
                            field=f"files.{name}")
        if not path.is_file():
            raise DataError("listed in the manifest but missing", file=str(path))
        if path.stat().st_size != fp.get("bytes", path.stat().st_size) or _sha256(path) != fp["sha256"]:
            raise DataError("does not match its manifest fingerprint (edited or corrupted; regenerate it)",
                            file=str(path), field="sha256")


def default_toolworld(seed: int = 0) -> ToolWorldData:
    """The default ToolWorld data (seed 0), generated once into the cache and verified on every use.

    Example: ``default_toolworld().file("test_in_domain")``.
    """
    from umi_lab.toolworld.dataset import GenerateConfig, generate_folder

    folder = cache_root() / "toolworld" / f"seed{seed}-v{GENERATOR_VERSION}"
    if not (folder / MANIFEST_FILE).is_file():
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        try:
            generate_folder(GenerateConfig(seed=seed), tmp)
            try:
                os.replace(tmp, folder)  # atomic; another process may have won the race
            except OSError:
                if not (folder / MANIFEST_FILE).is_file():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return read_manifest(folder, source="default")


def _existing(p: Any) -> Path | None:
    if not isinstance(p, str) or not p:
        return None
    path = Path(p)
    return path if path.exists() else None


def run_toolworld_dir(run_config: dict[str, Any]) -> tuple[Path | None, list[str]]:
    """The ToolWorld folder a run trained on, from its config (``toolworld``, else ``data`` when it holds a
    manifest, else the input of the ``split_report.json`` in ``data``); ``(None, notes)`` when none is
    recorded or it is not there. Example: ``run_toolworld_dir(read_json("runs/a/config.json"))``."""
    notes: list[str] = []
    explicit = run_config.get("toolworld")
    if explicit:
        if _existing(explicit) and (Path(explicit) / MANIFEST_FILE).is_file():
            return Path(explicit), notes
        notes.append(f"run config names toolworld {explicit!r}, which has no {MANIFEST_FILE} here")
    data = _existing(run_config.get("data"))
    if data is None:
        if run_config.get("data"):
            notes.append(f"run's data folder {run_config['data']!r} is not here")
        return None, notes
    folder = data if data.is_dir() else data.parent
    if (folder / MANIFEST_FILE).is_file():
        return folder, notes
    report = folder / "split_report.json"
    if report.is_file():
        rep = read_json(report)
        source = _existing(rep.get("input") if isinstance(rep, dict) else None)
        if source is not None:
            src = source if source.is_dir() else source.parent
            if (src / MANIFEST_FILE).is_file():
                return src, notes
    return None, notes


def resolve_toolworld(explicit: str | os.PathLike | None = None, run_config: dict[str, Any] | None = None
                      ) -> ToolWorldData:
    """The ToolWorld data to use (see the module doc for the order), verified against its manifest.

    Example: ``resolve_toolworld(run_config={"data": "runs/s/data/roles"}).world_seed``.
    """
    if explicit:
        return read_manifest(explicit, source="explicit")
    notes: list[str] = []
    if run_config:
        folder, notes = run_toolworld_dir(run_config)
        if folder is not None:
            data = read_manifest(folder, source="run")
            data.notes = notes
            return data
    env = os.environ.get(ENV_VAR)
    if env:
        data = read_manifest(env, source=f"${ENV_VAR}")
    else:
        data = default_toolworld()
    data.notes = notes
    return data
