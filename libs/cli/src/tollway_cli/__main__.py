"""`python -m tollway_cli run`: the embedded gateway on this machine."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tollway_cli.launcher import AlreadyRunning, Launcher, LaunchOptions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tollway", description="Tollway LLM gateway")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the whole gateway locally (no Docker needed)")
    run.add_argument("--config", type=Path, default=Path("config/tollway.yaml"))
    run.add_argument("--data-dir", type=Path, default=Path(".tollway"))
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8080, help="edge port (the OpenAI API)")
    run.add_argument("--admin-port", type=int, default=8081)
    args = parser.parse_args(argv)
    if not args.config.exists():
        print(f"tollway: config file {args.config} not found", file=sys.stderr)
        return 1
    options = LaunchOptions(
        config=args.config,
        data_dir=args.data_dir,
        host=args.host,
        port=args.port,
        admin_port=args.admin_port,
    )
    try:
        return Launcher(options).run()
    except AlreadyRunning as exc:
        print(f"tollway: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
