// Fail when an operation of the console no longer validates against docs/schema.graphql.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { buildSchema, parse, validate, Kind } from "graphql";

const web = fileURLToPath(new URL("..", import.meta.url));
const schemaPath = process.env.CRONTOPUS_SCHEMA ?? join(web, "../docs/schema.graphql");
const schema = buildSchema(readFileSync(schemaPath, "utf8"));

function* sources(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (name === "gql" || name === "node_modules") continue;
    if (statSync(path).isDirectory()) yield* sources(path);
    else if (/\.(ts|tsx)$/.test(name) && !/\.test\.tsx?$/.test(name)) yield path;
  }
}

const definitions = [];
for (const file of sources(join(web, "src"))) {
  const text = readFileSync(file, "utf8");
  for (const match of text.matchAll(/graphql\(`([\s\S]*?)`\)/g)) {
    try {
      for (const definition of parse(match[1]).definitions) definitions.push({ file, definition });
    } catch (error) {
      console.error(`${relative(web, file)}: ${error.message}`);
      process.exitCode = 1;
    }
  }
}

const fragments = definitions.filter((d) => d.definition.kind === Kind.FRAGMENT_DEFINITION);
let failures = 0;
for (const { file, definition } of definitions) {
  if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
  const document = { kind: Kind.DOCUMENT, definitions: [definition, ...fragments.map((f) => f.definition)] };
  const errors = validate(schema, document).filter((e) => !/Fragment ".*" is never used/.test(e.message));
  for (const error of errors) {
    failures += 1;
    console.error(`${relative(web, file)}: ${definition.name?.value ?? "anonymous"}: ${error.message}`);
  }
}
const operations = definitions.length - fragments.length;
if (failures || process.exitCode) {
  console.error(`${failures} problem(s) in ${operations} operations against ${relative(web, schemaPath)}: fix them or regenerate the schema`);
  process.exit(1);
}
console.log(`${operations} operations and ${fragments.length} fragments validate against ${relative(web, schemaPath)}`);
