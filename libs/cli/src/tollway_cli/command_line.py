"""The argument parser every `tollway` command is built from: argparse, exiting with
`exit_codes.INVALID` on a bad command line (argparse's own 2 means "admin unreachable or
refusing the token" here)."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from tollway_cli import exit_codes


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(exit_codes.INVALID, f"{self.prog}: error: {message}\n")
