// The openai Node SDK against a Tollway edge, as a Node application would use it.
//
//   node smoke.mjs <case>     (chat-stream | embeddings | responses-stream)
//
// Reads TOLLWAY_BASE_URL, TOLLWAY_API_KEY and TOLLWAY_MODEL; prints one JSON document with
// what the SDK handed back, for tests/integration/test_clients.py to check against OpenAI's
// spec. Any SDK error ends the run with a non-zero exit and the error on stderr.
import OpenAI from "openai";

const model = process.env.TOLLWAY_MODEL;
const client = new OpenAI({
  baseURL: process.env.TOLLWAY_BASE_URL,
  apiKey: process.env.TOLLWAY_API_KEY,
  maxRetries: 0,
  timeout: 30_000,
});

async function chatStream() {
  const messages = [{ role: "user", content: "Stream from Node" }];
  const stream = await client.chat.completions.create({
    model,
    messages,
    stream: true,
    stream_options: { include_usage: true },
  });
  const chunks = [];
  for await (const chunk of stream) {
    chunks.push(chunk);
  }
  // The SDK's own helper assembles the chunks into one completion.
  const helper = client.chat.completions.stream({ model, messages });
  const assembled = await helper.finalChatCompletion();
  return { chunks, assembled };
}

async function embeddings() {
  const input = ["toll", "way"];
  // With no encoding_format the SDK asks for base64 and decodes it to numbers itself.
  const decoded = await client.embeddings.create({ model, input });
  const floats = await client.embeddings.create({ model, input, encoding_format: "float" });
  // Asked for explicitly, base64 comes back as sent on the wire.
  const base64 = await client.embeddings.create({ model, input, encoding_format: "base64" });
  return { decoded, floats, base64 };
}

async function responsesStream() {
  const input = "Respond from Node";
  const stream = await client.responses.create({ model, input, stream: true });
  const events = [];
  for await (const event of stream) {
    events.push(event);
  }
  // The SDK's stream helper accumulates the events into the final response.
  const helper = client.responses.stream({ model, input });
  const final = await helper.finalResponse();
  return { events, final, final_text: final.output_text };
}

const cases = {
  "chat-stream": chatStream,
  embeddings: embeddings,
  "responses-stream": responsesStream,
};

const run = cases[process.argv[2]];
if (run === undefined) {
  console.error(`usage: node smoke.mjs <${Object.keys(cases).join(" | ")}>`);
  process.exit(2);
}
process.stdout.write(JSON.stringify(await run()));
