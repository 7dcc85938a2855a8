"""docs/providers.md's table of which provider serves the image, audio and rerank endpoints
is the one `FACTS` says."""

from __future__ import annotations

import re
from pathlib import Path

from tollway_common.contract import Endpoint
from tollway_common.providers import FACTS, Provider

DOC = Path(__file__).parents[3] / "docs" / "providers.md"
MEDIA_ENDPOINTS = (
    Endpoint.IMAGES_GENERATIONS,
    Endpoint.IMAGES_EDITS,
    Endpoint.IMAGES_VARIATIONS,
    Endpoint.AUDIO_TRANSCRIPTIONS,
    Endpoint.AUDIO_TRANSLATIONS,
    Endpoint.AUDIO_SPEECH,
    Endpoint.RERANK,
)


def _doc_table() -> dict[str, dict[str, bool]]:
    section = DOC.read_text().split("## Images, audio and rerank", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    header = [cell.strip(" `") for cell in lines[0].strip("|").split("|")]
    table: dict[str, dict[str, bool]] = {}
    for line in lines[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        endpoint = re.match(r"`(\w+)`", cells[0])
        assert endpoint is not None, line
        table[endpoint.group(1)] = {
            provider: cell == "yes" for provider, cell in zip(header[1:], cells[1:], strict=True)
        }
    return table


def test_the_doc_table_is_what_the_provider_facts_say() -> None:
    expected = {
        endpoint.value: {provider.value: FACTS[provider].serves(endpoint) for provider in Provider}
        for endpoint in MEDIA_ENDPOINTS
    }
    assert _doc_table() == expected
