/**
 * `npm run schema`: writes config-schema.json at the repository root from the loader's own
 * key lists (config-schema.ts). The file is committed, so editors find it next to the example
 * configs; test/config/config-schema.test.ts fails when it is out of date.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CONFIG_SCHEMA_FILE, configSchemaText } from './config-schema.ts';

const target = fileURLToPath(new URL(`../../${CONFIG_SCHEMA_FILE}`, import.meta.url));
writeFileSync(target, configSchemaText());
console.log(`wrote ${target}`);
