"""The `domestic-llm` command line: chat, probe, emulate, curl2py.

Installed as a console script with the package; its one library, click, comes
with the `cli` extra (`pip install 'domestic-llm[cli]'`) and is imported only
here, never by the library, so `import domestic_llm` costs nothing extra.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    try:
        import click  # noqa: F401
    except ImportError:
        sys.stderr.write("domestic-llm: the command line needs click: pip install 'domestic-llm[cli]'\n")
        raise SystemExit(2) from None
    from .app import run

    run(argv)


__all__ = ["main"]
