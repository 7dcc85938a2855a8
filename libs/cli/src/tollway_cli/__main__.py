"""`tollway`: run the embedded gateway, and manage a running one through its admin API.

tollway run                      the whole gateway on this machine (no Docker needed)
tollway apply -f tollway.yaml    declare orgs, teams, users, models, prices and keys
tollway export                   the control plane as one document (keys by hash)
tollway keys create|list|show|rotate|revoke
tollway requests / request <id>  the request log, and one request's attempts and bodies
tollway usage / models           usage and cost, the model catalog
tollway config validate FILE     check a config document as admin's loader would
tollway paths                    the config file and data folder `run` uses here
tollway --version

Read commands print tables, or the API's JSON with `--output json`. Exit codes are in
`exit_codes.py` (0 ok, 1 invalid input, 2 admin unreachable or refusing the token, 3 admin
or metering failed).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml

from tollway_cli import __version__, config_check, debug_mode, exit_codes, read_commands
from tollway_cli.admin_client import (
    ADMIN_URL_ENV,
    DEFAULT_ADMIN_URL,
    AdminClient,
    AdminError,
    default_token,
    with_hashed_keys,
)
from tollway_cli.command_line import Parser
from tollway_cli.launcher import AlreadyRunning, Launcher, LaunchOptions
from tollway_cli.locations import current_locations, ensure_config
from tollway_cli.output import as_json
from tollway_common.config_file import ConfigError, load_config
from tollway_common.secret_refs import SecretNotFound


def _parser() -> argparse.ArgumentParser:
    parser = Parser(prog="tollway", description="Tollway LLM gateway")
    parser.add_argument("--version", action="version", version=f"tollway {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the whole gateway locally (no Docker needed)")
    run.add_argument(
        "--config",
        type=Path,
        help="default: config/tollway.yaml in a checkout, else the user's config folder",
    )
    run.add_argument(
        "--data-dir", type=Path, help="default: .tollway in a checkout, else the user's data folder"
    )
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8080, help="edge port (the OpenAI API)")
    run.add_argument("--admin-port", type=int, default=8081)
    run.add_argument(
        "--router-monitor-port",
        type=int,
        default=9090,
        help="the router's /healthz, /readyz and /metrics",
    )
    run.add_argument(
        "--metering-monitor-port",
        type=int,
        default=9091,
        help="metering's /healthz, /readyz and /metrics",
    )
    run.add_argument(
        "--edge-metrics-port",
        type=int,
        default=9092,
        help="the edge's /metrics (off the API port)",
    )
    run.add_argument(
        "--debug",
        action="store_true",
        default=debug_mode.requested(os.environ),
        help="debug logs everywhere, every caller's redacted bodies stored "
        f"(or {debug_mode.DEBUG_ENV}=1)",
    )

    connection = Parser(add_help=False)
    connection.add_argument("--admin-url", default=os.environ.get(ADMIN_URL_ENV, DEFAULT_ADMIN_URL))
    connection.add_argument(
        "--data-dir", type=Path, help="where `run` keeps its token (as `tollway paths` shows)"
    )

    def admin_command(name: str, help_text: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=help_text, parents=[connection])

    apply = admin_command("apply", "apply a declarative document")
    apply.add_argument("-f", "--file", type=Path, required=True)
    apply.add_argument(
        "--no-prune", action="store_true", help="keep records an earlier apply created"
    )
    export = admin_command("export", "print the control plane as YAML")
    export.add_argument("-o", "--output", type=Path)

    keys = commands.add_parser("keys", help="issue and manage virtual keys")
    actions = keys.add_subparsers(dest="action", required=True)
    create = actions.add_parser(
        "create", help="issue a key; its secret is printed once", parents=[connection]
    )
    create.add_argument("name")
    create.add_argument("--team", default="")
    create.add_argument("--user", default="")
    create.add_argument("--org", default="")
    create.add_argument("--models", help="comma-separated allow list (globs allowed)")
    create.add_argument("--expires-at", type=int, default=0, help="Unix seconds")
    output = read_commands.output_options()
    actions.add_parser("list", help="list usable keys", parents=[connection, output])
    actions.add_parser("show", help="one key", parents=[connection, output]).add_argument("key_id")
    actions.add_parser("revoke", parents=[connection]).add_argument("key_id")
    rotate = actions.add_parser(
        "rotate", help="issue a replacement; the old key expires later", parents=[connection]
    )
    rotate.add_argument("key_id")
    rotate.add_argument("--grace", type=int, default=3600, help="seconds the old key still works")
    read_commands.add_read_commands(commands, [connection, output])
    config = commands.add_parser("config", help="work with config documents")
    config_actions = config.add_subparsers(dest="action", required=True)
    validate = config_actions.add_parser(
        "validate", help="check a document as admin's config loader does", parents=[output]
    )
    validate.add_argument("file", type=Path)
    commands.add_parser("paths", help="print the config file and data folder `run` uses here")
    return parser


def _is_read(args: argparse.Namespace) -> bool:
    return args.command in ("requests", "request", "usage", "models") or (
        args.command == "keys" and args.action in ("list", "show")
    )


def _admin(args: argparse.Namespace) -> int:
    data_dir = args.data_dir or current_locations().data_dir
    client = AdminClient(args.admin_url, default_token(data_dir))
    try:
        if _is_read(args):
            answer, as_table = read_commands.read(client, args)
            sys.stdout.write(as_json(answer) + "\n" if args.output == "json" else as_table(answer))
            return exit_codes.OK
        result = _admin_call(client, args)
    except AdminError as exc:
        print(f"tollway: {exc}", file=sys.stderr)
        return exit_codes.of_admin_error(exc)
    except (ConfigError, SecretNotFound, OSError) as exc:
        print(f"tollway: {exc}", file=sys.stderr)
        return exit_codes.INVALID
    finally:
        client.close()
    if args.command == "export":
        text = yaml.safe_dump(result, sort_keys=False)
        if args.output:
            args.output.write_text(text)
        else:
            print(text, end="")
    else:
        print(json.dumps(result, indent=2))
    return 0


def _admin_call(client: AdminClient, args: argparse.Namespace) -> Any:
    if args.command == "apply":
        doc = with_hashed_keys(load_config(args.file))
        params = {"prune": "false" if args.no_prune else "true"}
        document = doc.model_dump(mode="json")
        if "keys" not in doc.model_fields_set:
            # No keys section (an export): the keys stay as they are.
            del document["keys"]
        return client.call("PUT", "/api/v1/config", json=document, params=params)
    if args.command == "export":
        return client.call("GET", "/api/v1/config")
    if args.action == "create":
        body: dict[str, Any] = {
            "name": args.name,
            "team_id": args.team,
            "user_id": args.user,
            "org_id": args.org,
            "expires_at": args.expires_at,
        }
        if args.models:
            body["policy"] = {"allow_models": [m.strip() for m in args.models.split(",")]}
        return client.call("POST", "/api/v1/keys", json=body)
    if args.action == "rotate":
        return client.call(
            "POST", f"/api/v1/keys/{args.key_id}/rotate", json={"grace_s": args.grace}
        )
    return client.call("POST", f"/api/v1/keys/{args.key_id}/revoke")


def _paths() -> int:
    where = current_locations()
    config_note = "" if where.config.exists() else "  (the packaged default, written on first run)"
    print(f"config: {where.config.absolute()}{config_note}")
    print(f"data:   {where.data_dir.absolute()}")
    return 0


def _run(args: argparse.Namespace) -> int:
    where = current_locations()
    config: Path = args.config or where.config
    if args.config is None and not where.in_checkout and ensure_config(config):
        print(f"tollway: wrote the default configuration to {config}; edit it to add models")
    if not config.exists():
        print(f"tollway: config file {config} not found", file=sys.stderr)
        return 1
    options = LaunchOptions(
        config=config,
        data_dir=args.data_dir or where.data_dir,
        host=args.host,
        port=args.port,
        admin_port=args.admin_port,
        router_monitor_port=args.router_monitor_port,
        metering_monitor_port=args.metering_monitor_port,
        edge_metrics_port=args.edge_metrics_port,
        debug=args.debug,
    )
    try:
        return Launcher(options).run()
    except AlreadyRunning as exc:
        print(f"tollway: {exc}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "run":
        return _run(args)
    if args.command == "paths":
        return _paths()
    if args.command == "config":
        return config_check.validate(args.file, args.output)
    return _admin(args)


if __name__ == "__main__":
    sys.exit(main())
