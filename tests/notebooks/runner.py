"""Execute the notebooks with nbclient on this interpreter's kernel.

Used by the tests, and to redraw the README's picture::

    python -m tests.notebooks.runner --db data/parcelproof.duckdb \
        --now 2026-11-28T12:00:00Z --figures docs notebooks/02-carriers.ipynb
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@contextmanager
def kernel_environment(extra: Mapping[str, str]) -> Iterator[None]:
    """A ``python3`` kernel that is *this* interpreter, and ``extra`` in its environment.

    A kernelspec named python3 elsewhere on the machine (a user's or the system's
    Jupyter) could point at another Python without parcelproof installed, so a
    private one goes first on JUPYTER_PATH; the kernel's runtime and IPython files
    stay in a temporary folder.
    """
    with tempfile.TemporaryDirectory(prefix="parcelproof-kernel-") as tmp:
        spec = Path(tmp) / "kernels" / "python3"
        spec.mkdir(parents=True)
        argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        kernel = {"argv": argv, "display_name": "parcelproof", "language": "python"}
        (spec / "kernel.json").write_text(json.dumps(kernel))
        env = {
            "JUPYTER_PATH": tmp,
            "JUPYTER_RUNTIME_DIR": str(Path(tmp) / "runtime"),
            "JUPYTER_PLATFORM_DIRS": "1",
            "IPYTHONDIR": str(Path(tmp) / "ipython"),
            "MPLBACKEND": "Agg",
            **extra,
        }
        saved = {key: os.environ.get(key) for key in env}
        os.environ.update(env)
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def execute(path: Path, env: Mapping[str, str], timeout: int = 180) -> nbformat.NotebookNode:
    """Run every cell of the notebook at ``path`` (in its folder) and return it."""
    notebook = nbformat.read(path, as_version=4)
    with kernel_environment(env):
        client = NotebookClient(
            notebook,
            timeout=timeout,
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
        )
        client.execute()
    return notebook


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, default=NOTEBOOKS)
    parser.add_argument("--db", required=True, type=Path)
    parser.add_argument("--now", help="PARCELPROOF_NOW for the run")
    parser.add_argument("--figures", type=Path, help="folder to save the plots in")
    args = parser.parse_args()
    env = {"PARCELPROOF_DB": str(args.db.resolve())}
    if args.now:
        env["PARCELPROOF_NOW"] = args.now
    if args.figures:
        args.figures.mkdir(parents=True, exist_ok=True)
        env["PARCELPROOF_FIGURES"] = str(args.figures.resolve())
    for path in args.notebooks:
        execute(path.resolve(), env)
        print(f"ran {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
