// The anthropic TypeScript SDK against a Tollway edge's Messages API.
//
//   node anthropic_smoke.mjs messages-stream
//
// Reads TOLLWAY_EDGE_URL (the edge, without /v1), TOLLWAY_API_KEY and TOLLWAY_MODEL; prints
// one JSON document for tests/integration/test_clients.py. The raw stream is read with the key
// as `x-api-key` (`apiKey`), the SDK's accumulating helper with it as a bearer token
// (`authToken`, what Claude Code's ANTHROPIC_AUTH_TOKEN sends).
import Anthropic from "@anthropic-ai/sdk";

const model = process.env.TOLLWAY_MODEL;
const options = { baseURL: process.env.TOLLWAY_EDGE_URL, maxRetries: 0, timeout: 30_000 };
const withApiKey = new Anthropic({ ...options, apiKey: process.env.TOLLWAY_API_KEY });
const withAuthToken = new Anthropic({ ...options, authToken: process.env.TOLLWAY_API_KEY });

async function messagesStream() {
  const request = {
    model,
    max_tokens: 256,
    messages: [{ role: "user", content: "Stream from the anthropic SDK" }],
  };
  const stream = await withApiKey.messages.create({ ...request, stream: true });
  const events = [];
  for await (const event of stream) {
    events.push(event);
  }
  const final = await withAuthToken.messages.stream(request).finalMessage();
  return { events, final };
}

const cases = { "messages-stream": messagesStream };

const run = cases[process.argv[2]];
if (run === undefined) {
  console.error(`usage: node anthropic_smoke.mjs <${Object.keys(cases).join(" | ")}>`);
  process.exit(2);
}
process.stdout.write(JSON.stringify(await run()));
