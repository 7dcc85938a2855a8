"""`python -m tollway_metering`: store usage events and answer analytics queries."""

from __future__ import annotations

import asyncio
import logging
import sys

import uvloop

from tollway_common.log import setup_logging
from tollway_metering.service import run
from tollway_metering.settings import MeteringSettings
from tollway_metering.warehouse import WarehouseNotConfigured


def main() -> None:
    settings = MeteringSettings()
    setup_logging("metering", settings.log)
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    try:
        asyncio.run(run(settings))
    except WarehouseNotConfigured as exc:
        # A configuration mistake, not a crash: one line that says what to change.
        logging.getLogger("tollway_metering").error(str(exc))
        sys.exit(2)


if __name__ == "__main__":
    main()
