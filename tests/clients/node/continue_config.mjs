// Parse a Continue `config.yaml` (read from stdin) with Continue's own published schema, the
// `@continuedev/config-yaml` package: prints the config as the schema read it and the
// validation errors Continue would show. tests/unit/test_client_docs.py runs it on the guide's
// example; a field the schema does not know is dropped from the parsed config, so the test
// sees it.
import { readFileSync } from "node:fs";
import { parseConfigYaml, validateConfigYaml } from "@continuedev/config-yaml";

const config = parseConfigYaml(readFileSync(0, "utf8"));
process.stdout.write(JSON.stringify({ config, errors: validateConfigYaml(config) }));
