"""What `tollway` exits with, so scripts can tell a wrong input from an unreachable or failing
gateway (docs/operations.md lists them)."""

from __future__ import annotations

from tollway_cli.admin_client import AdminError

OK = 0
# The input was wrong: a command line argparse refused, a document that does not validate, or
# a request admin refused as invalid or naming nothing it has (4xx other than 401/403).
INVALID = 1
# No answer from admin at --admin-url, or it refused the token (401) or the role (403).
UNREACHABLE_OR_DENIED = 2
# Admin or a service behind it failed (5xx: metering not running, an internal error).
SERVER_ERROR = 3


def of_admin_error(error: AdminError) -> int:
    if error.status is None or error.status in (401, 403):
        return UNREACHABLE_OR_DENIED
    if error.status >= 500:
        return SERVER_ERROR
    return INVALID
