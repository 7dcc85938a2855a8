"""The features of issue 3 ("Anthropic, Azure AI Foundry and Azure OpenAI") and of issue 24 (the
Responses API on every kind of deployment), by id.

A test that shows a feature for a provider says so with `@pytest.mark.proves("<id>",
"<provider>")` (in the shared adapter suite the provider is the `adapter` parameter).
`docs/translation-matrix.md` is generated from those marks (`make translation-matrix`), and
`tests/unit/test_translation_matrix.py` fails when the committed page differs from what the
tests show, so the page can never claim what no test shows.
"""

from __future__ import annotations

from dataclasses import dataclass

from tollway_router.providers.anthropic.fields import CHAT_FIELDS, COMPLETION_FIELDS


@dataclass(frozen=True)
class Feature:
    id: str
    section: str
    text: str
    # Shown for an OpenAI-wire provider that forwards the body as sent: nothing to translate.
    translated: bool = False


_PROVIDERS = "Providers and credentials"
_TRANSLATION = "Translation, OpenAI chat <-> Anthropic Messages"
_USAGE = "Usage, stop reasons and errors"
_MESSAGES = "Translation, Anthropic Messages -> OpenAI chat (deployments that speak only chat)"
_SUITE = "Shared adapter suite (every provider in the registry)"
_RESPONSES = "The Responses API (`/v1/responses` through the openai SDK's `responses.create`)"

FEATURES: tuple[Feature, ...] = (
    Feature(
        "anthropic_sdk",
        _PROVIDERS,
        "Messages API through the official SDK (`x-api-key`, `anthropic-version`)",
    ),
    Feature(
        "beta_headers",
        _PROVIDERS,
        "Beta headers (`anthropic-beta`) passed through where the deployment asks",
    ),
    Feature(
        "foundry_api_key",
        _PROVIDERS,
        "Foundry `<resource>.services.ai.azure.com/anthropic/`, API key, SDK Foundry client",
    ),
    Feature("foundry_entra", _PROVIDERS, "Azure AI Foundry with an Entra ID bearer token"),
    Feature(
        "azure_deployments_path", _PROVIDERS, "`/openai/deployments/<name>/...?api-version=...`"
    ),
    Feature("azure_v1_path", _PROVIDERS, "`/openai/v1/...` with the deployment as `model`"),
    Feature("azure_api_key", _PROVIDERS, "`api-key` header"),
    Feature("azure_entra", _PROVIDERS, "Entra ID bearer token"),
    Feature(
        "tenancy",
        _PROVIDERS,
        "Per-request tenancy (`resource:key`, `resource/model`), opt-in per model entry",
    ),
    Feature(
        "tenancy_secret_kept",
        _PROVIDERS,
        "A tenant's key is never logged, stored in KV or written to usage",
    ),
    Feature(
        "oauth_client_credentials",
        _PROVIDERS,
        "OAuth client-credentials grant (Entra service principal, any token endpoint)",
    ),
    Feature(
        "oauth_refresh_token", _PROVIDERS, "OAuth refresh-token grant, rotated refresh tokens kept"
    ),
    Feature(
        "oauth_managed_identity",
        _PROVIDERS,
        "Managed identity (IMDS, App Service IDENTITY_ENDPOINT, MSI_ENDPOINT)",
    ),
    Feature(
        "oauth_cache",
        _PROVIDERS,
        "Tokens cached per credential, refreshed before expiry, one fetch at a time",
    ),
    Feature(
        "oauth_errors",
        _PROVIDERS,
        "Token endpoint failures -> 502 (`upstream_auth_failed` when refused), never 401",
    ),
    Feature(
        "system_developer",
        _TRANSLATION,
        "system and developer messages (string, several, part arrays) -> `system`",
        True,
    ),
    Feature("text_parts", _TRANSLATION, "user and assistant text parts", True),
    Feature(
        "images",
        _TRANSLATION,
        "images: data URLs -> base64 source, http(s) URLs -> url source",
        True,
    ),
    Feature("documents", _TRANSLATION, "`file` parts (PDF, plain text) -> `document` blocks", True),
    Feature(
        "cache_control",
        _TRANSLATION,
        "`cache_control` on parts, messages and tools kept on the blocks",
        True,
    ),
    Feature(
        "tool_results_merged",
        _TRANSLATION,
        "consecutive tool results -> one user turn of `tool_result` blocks",
        True,
    ),
    Feature("tools", _TRANSLATION, "tools -> `input_schema` tools", True),
    Feature(
        "tool_choice", _TRANSLATION, "`tool_choice` auto, none, required, a named function", True
    ),
    Feature(
        "parallel_tool_calls",
        _TRANSLATION,
        "`parallel_tool_calls=false` -> `disable_parallel_tool_use`",
        True,
    ),
    Feature("tool_calls_round_trip", _TRANSLATION, "assistant `tool_calls` <-> `tool_use`", True),
    Feature(
        "tool_call_stream",
        _TRANSLATION,
        "streamed `input_json_delta` -> argument deltas, stable indexes and ids, calls apart",
        True,
    ),
    Feature(
        "response_format",
        _TRANSLATION,
        "`response_format`: json_schema native (`output_config.format`) or a forced tool, "
        "json_object a forced tool, stream and not",
        True,
    ),
    Feature("stop", _TRANSLATION, "`stop` -> `stop_sequences`", True),
    Feature(
        "max_tokens",
        _TRANSLATION,
        "`max_tokens` / `max_completion_tokens`, per-model default when absent",
        True,
    ),
    Feature(
        "sampling",
        _TRANSLATION,
        "`temperature`, `top_p` where the model takes them, dropped where it refuses them",
        True,
    ),
    Feature("user", _TRANSLATION, "`user` -> `metadata.user_id`", True),
    Feature(
        "reasoning",
        _TRANSLATION,
        "`reasoning_effort` -> adaptive thinking and `output_config.effort`, or a thinking "
        "budget, per model",
        True,
    ),
    Feature(
        "claude_capabilities",
        _TRANSLATION,
        "per-model capability table (sampling, thinking, effort, structured outputs)",
        True,
    ),
    Feature(
        "claude_sdk_contract",
        _TRANSLATION,
        "every translated request sent through the locked SDK's `messages.create`, valid "
        "against its `MessageCreateParams`",
    ),
    Feature(
        "claude_property",
        _TRANSLATION,
        "generated OpenAI chat requests (hypothesis) translate to a valid body or a 4xx",
    ),
    Feature(
        "thinking_signature",
        _TRANSLATION,
        "thinking -> `reasoning_content` with its signature, sent back next turn",
        True,
    ),
    Feature("n_refused", _TRANSLATION, "`n > 1` -> a clear 400", True),
    Feature(
        "usage_cache", _USAGE, "input, output, cache read and cache write tokens counted once", True
    ),
    Feature("stream_usage", _USAGE, "usage present in streams"),
    Feature("finish_reason", _USAGE, "`stop_reason` -> `finish_reason`", True),
    Feature(
        "errors",
        _USAGE,
        "upstream errors -> the error taxonomy and the statuses the OpenAI SDK expects",
    ),
    Feature("overloaded", _USAGE, "`overloaded_error` and stream `error` events", True),
    Feature("content_filter_error", _USAGE, "Azure content-filter errors keep their code"),
    Feature(
        "legacy_endpoints",
        _USAGE,
        "`/v1/completions`, `/v1/embeddings`: served, or a clear error naming the model and why",
    ),
    Feature(
        "passthrough",
        _TRANSLATION,
        "OpenAI-wire body forwarded as sent (only `model` and stream usage set)",
    ),
    Feature(
        "messages_text",
        _MESSAGES,
        "user and assistant turns, text blocks, `max_tokens` -> `max_completion_tokens`",
    ),
    Feature(
        "messages_system",
        _MESSAGES,
        "`system` (a string or text blocks) -> a system message, `cache_control` dropped",
    ),
    Feature("messages_images", _MESSAGES, "images: base64 -> data URL, `url` -> `image_url`"),
    Feature(
        "messages_documents",
        _MESSAGES,
        "text documents -> text; PDF and file documents -> a 400 naming the source",
    ),
    Feature(
        "messages_tool_round_trip",
        _MESSAGES,
        "`tool_use` -> `tool_calls`; `tool_result` (string, blocks, `is_error`, images) -> "
        "`tool` messages",
    ),
    Feature(
        "messages_tools",
        _MESSAGES,
        "tools -> function tools; `tool_choice` auto, any, tool, none; `disable_parallel_tool_use`",
    ),
    Feature(
        "messages_params",
        _MESSAGES,
        "`stop_sequences`, `temperature`, `top_p`, `metadata.user_id`, `output_config.format`; "
        "`top_k` dropped",
    ),
    Feature(
        "messages_thinking",
        _MESSAGES,
        "`thinking` budget or `output_config.effort` -> `reasoning_effort`; thinking history "
        "dropped",
    ),
    Feature(
        "messages_refused",
        _MESSAGES,
        "server tools, MCP servers, search results, server tool blocks -> a 400 naming the field",
    ),
    Feature(
        "messages_generated",
        _MESSAGES,
        "requests generated from Anthropic's spec (hypothesis) -> a valid chat request or a 400",
    ),
    Feature(
        "messages_response",
        _MESSAGES,
        "completion -> `Message`: text, `tool_use` with parsed input, `stop_reason`, usage",
    ),
    Feature(
        "messages_reasoning",
        _MESSAGES,
        "backend reasoning (`reasoning_content`) -> thinking blocks when the client asked for "
        "thinking",
    ),
    Feature(
        "messages_stream",
        _MESSAGES,
        "chat stream -> `message_start` ... `message_stop`, one block at a time, read by the "
        "anthropic SDK",
    ),
    Feature(
        "messages_stream_tools",
        _MESSAGES,
        "streamed tool calls (arguments split, calls in parallel) -> `tool_use` blocks with "
        "`input_json_delta`",
    ),
    Feature(
        "messages_stream_usage",
        _MESSAGES,
        "usage asked of the deployment, sent on `message_delta`, metered exactly",
    ),
    Feature(
        "responses_native",
        _RESPONSES,
        "served natively: the request goes upstream as sent, with the deployment's model, "
        "`store: false` and no `previous_response_id`",
    ),
    Feature(
        "responses_translated",
        _RESPONSES,
        "served translated over the deployment's chat adapter (`dialects/responses_*`)",
    ),
    Feature(
        "responses_create",
        _RESPONSES,
        "a `Response` valid against OpenAI's spec and the SDK's type, stored for `retrieve`",
    ),
    Feature(
        "responses_metered",
        _RESPONSES,
        "metered with the endpoint `responses` and the tokens the answer shows",
    ),
    Feature(
        "responses_stream",
        _RESPONSES,
        "streamed: typed events `response.created` ... `response.completed`, read by the SDK",
    ),
    Feature(
        "responses_tools",
        _RESPONSES,
        "function tools -> `function_call` items; `function_call_output` items sent back",
    ),
    Feature(
        "responses_previous",
        _RESPONSES,
        "`previous_response_id`: the stored conversation sent upstream whole",
    ),
    Feature(
        "responses_reasoning",
        _RESPONSES,
        "Claude's signed thinking -> a `reasoning` item with `encrypted_content`, sent back as a "
        "`thinking` block next turn",
    ),
    Feature(
        "responses_stream_error",
        _RESPONSES,
        "a failure mid-stream ends the stream with the SDK's `error` event",
    ),
    Feature(
        "sdk_stack", _SUITE, "Through the whole stack with the official `openai` SDK as the client"
    ),
    Feature("suite_text_stream", _SUITE, "text stream: valid chunks, one id, role first"),
    Feature(
        "suite_tool_call_stream", _SUITE, "tool-call stream: indexes, ids, arguments that parse"
    ),
    Feature("suite_usage", _SUITE, "usage present, stream and not"),
    Feature("suite_errors", _SUITE, "error mapping for 400-413, 429, 5xx and 529 (one ladder)"),
    Feature("suite_empty_choices", _SUITE, "a reply without choices or content"),
)
_CHAT_FIELDS = "OpenAI chat -> Claude, field by field (`providers/anthropic/fields.py`)"
_COMPLETION_FIELDS = "OpenAI completions -> Claude, field by field"


def field_feature(endpoint: str, name: str) -> str:
    """The feature id of one request field's rule (`endpoint`: chat or completions)."""
    return f"{endpoint}_field_{name}"


FEATURES += tuple(
    Feature(field_feature("chat", name), _CHAT_FIELDS, rule.describe(name), True)
    for name, rule in sorted(CHAT_FIELDS.items())
)
FEATURES += tuple(
    Feature(
        field_feature("completions", name),
        _COMPLETION_FIELDS,
        rule.describe(name),
        True,
    )
    for name, rule in sorted(COMPLETION_FIELDS.items())
)
BY_ID = {feature.id: feature for feature in FEATURES}
PROVIDERS = ("anthropic", "azure_openai", "openai", "fake")

# What a provider lacks in the shared suite, with the reason; the suite runs every other pair.
SUITE_LACKS: dict[str, dict[str, str]] = {
    "fake": {
        "suite_empty_choices": "the demo server never sends a reply without choices",
    },
}

# The tests `make translation-matrix` runs to rebuild the page (and the check collects).
PROOF_PATHS = (
    "tests/unit/router",
    "tests/integration/test_anthropic_flow.py",
    "tests/integration/test_foundry_flow.py",
    "tests/integration/test_tenancy_flow.py",
    "tests/integration/test_azure_openai_flow.py",
    "tests/integration/test_oauth_tokens.py",
    "tests/integration/test_chat_flow.py",
    "tests/integration/test_messages_over_chat.py",
    "tests/integration/test_claude_contract.py",
    "tests/integration/test_claude_fields_flow.py",
    "tests/integration/test_responses_flow.py",
    "tests/integration/test_responses_on_claude.py",
)
