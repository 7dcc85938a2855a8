"""`python -m tollway_metering`: store usage events and answer analytics queries."""

from __future__ import annotations

import asyncio

import uvloop

from tollway_common.log import setup_logging
from tollway_metering.service import run
from tollway_metering.settings import MeteringSettings


def main() -> None:
    settings = MeteringSettings()
    setup_logging("metering", settings.log)
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    asyncio.run(run(settings))


if __name__ == "__main__":
    main()
