/**
 * Loads every JSON Schema under `schema/` into one strict Ajv 2020-12 instance, so that
 * cross-file `$ref`s resolve. Used by the schema and vector tests and by the generator.
 *
 * @module
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv';
import { repoRoot } from './repo-root.js';

/** Base of every `$id` in schema/ (`.invalid` is reserved: these ids are names, not URLs to fetch). */
export const SCHEMA_BASE = 'https://nova-conformance.invalid/schema/v3/';

export const SCHEMA_IDS = {
  messages: `${SCHEMA_BASE}messages.schema.json`,
  wireFrame: `${SCHEMA_BASE}wire-frame.schema.json`,
  rpcPayload: `${SCHEMA_BASE}rpc-payload.schema.json`,
  vectorFile: `${SCHEMA_BASE}vector-file.schema.json`,
  vectorIds: `${SCHEMA_BASE}vector-ids.schema.json`,
  vectorManifest: `${SCHEMA_BASE}vector-manifest.schema.json`,
} as const;

/** The schema files this module owns (others, e.g. target-config, are loaded too when present). */
export function schemaFiles(root = repoRoot()): string[] {
  return readdirSync(join(root, 'schema'))
    .filter((f) => f.endsWith('.schema.json'))
    .sort();
}

/** A strict Ajv with every schema/*.schema.json added (compiled lazily on first use). */
export function loadSchemas(root = repoRoot()): Ajv2020 {
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  for (const file of schemaFiles(root)) {
    ajv.addSchema(JSON.parse(readFileSync(join(root, 'schema', file), 'utf8')) as object);
  }
  return ajv;
}

/** The validator for `id` (full `$id`, optionally with a `#/$defs/...` fragment). */
export function validatorFor(ajv: Ajv2020, id: string): ValidateFunction {
  const v = ajv.getSchema(id);
  if (!v) throw new Error(`schema ${id} is not loaded`);
  return v;
}
