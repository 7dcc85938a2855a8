"""Token estimates for when a provider reports no usage (a stream cut short, a dead router).

Rough by design (about four characters a token); rows built from them are marked estimated.
The prompt's estimate is a request fact: the edge makes it once (`tollway_edge.request_facts`)
and it travels in the InferRequest.
"""

from __future__ import annotations

CHARS_PER_TOKEN = 4


def estimate_completion_tokens(output_chars: int) -> int:
    return -(-output_chars // CHARS_PER_TOKEN)
