/**
 * `profiles.<name>` (reference 2.7): named sets of pins, one of which may be active at a
 * time (chosen at run time through `PUT /api/profiles/active`). A pin maps a model id a client
 * sends (a virtual name, or a real model id or alias) to the model that serves it while the
 * profile is active; an empty target (`""` or `~`) makes that id unavailable instead.
 *
 * Two stages, as in llama-swap: the shape is checked while decoding (its YAML unmarshal
 * rejects the removed list syntax before anything else is validated), the names and targets
 * after the peers and selectors are known, since a target may be either.
 */
import type { Field } from './field.ts';
import { resolveTarget } from './resolve-model.ts';
import { block, mapOf, text } from './schema-shapes.ts';
import type { Config, ProfileConfig } from './types.ts';

export interface ProfileDraft {
  name: string;
  field: Field;
  description: string;
  /** Pins in file order, each with its field (for `file:line`). */
  pins: Array<{ name: string; target: string; field: Field }>;
}

/** `profiles` in config-schema.json. */
export const PROFILES_SCHEMA = mapOf(
  'Named sets of pins; one may be active at a time (PUT /api/profiles/active).',
  block('A profile.', {
    description: text('What the profile is for.', { default: '' }),
    pins: mapOf(
      'Requested model id -> the model (or peer model, or selector) that serves it while the profile is active; "" or null makes the id unavailable. At least one.',
      text('Target model id.'),
    ),
  }),
);

const LEGACY_SYNTAX = 'profile must be a mapping with description and pins; the legacy list syntax is no longer supported';

/**
 * The shape of every profile. A profile that is a list (the old `profiles: {p: [m1, m2]}`)
 * or a scalar fails with llama-swap's migration message; one that is null decodes as empty
 * (and then fails for having no pins, as in llama-swap).
 *
 * @throws ConfigError at the profile's (or pin's) file:line.
 */
export function decodeProfiles(field: Field): ProfileDraft[] {
  return field.entries().map(([name, profile]) => {
    if (profile.isSet && !(profile.value instanceof Map)) profile.fail(`${profile.name}: ${LEGACY_SYNTAX}`);
    profile.keys(['description', 'pins']);
    return {
      name,
      field: profile,
      description: profile.get('description').string(),
      // YAML null (`~`) reads as '' like an empty string: both disable the id.
      pins: profile
        .get('pins')
        .entries()
        .map(([pin, target]) => ({ name: pin, target: target.string(''), field: target })),
    };
  });
}

/**
 * llama-swap's profile rules, in its order per profile: a non-blank name, at least one pin,
 * non-blank pin names, and every non-empty target a local model or alias, a peer model (FQN,
 * or a bare id exactly one peer lists) or a selector. Targets do not chain: a target that is
 * only another pin's name is unknown.
 *
 * `cfg` must already hold the models, aliases, peers and selectors.
 *
 * @throws ConfigError e.g. `profiles.coding.pins.coder references unknown model "nope"`.
 */
export function validateProfiles(drafts: readonly ProfileDraft[], cfg: Config): Record<string, ProfileConfig> {
  const out: Record<string, ProfileConfig> = {};
  for (const draft of drafts) {
    if (draft.name.trim() === '') draft.field.fail('profiles: profile names cannot be empty');
    if (draft.pins.length === 0) {
      const pins = draft.field.has('pins') ? draft.field.get('pins') : draft.field;
      pins.fail(`profiles.${draft.name}.pins must contain at least one entry`);
    }
    const pins: Record<string, string> = {};
    for (const pin of draft.pins) {
      if (pin.name.trim() === '') pin.field.fail(`profiles.${draft.name}.pins: pin names cannot be empty`);
      if (pin.target !== '' && resolveTarget(cfg, pin.target) === null && !Object.hasOwn(cfg.selectors, pin.target)) {
        pin.field.fail(`profiles.${draft.name}.pins.${pin.name} references unknown model ${JSON.stringify(pin.target)}`);
      }
      pins[pin.name] = pin.target;
    }
    out[draft.name] = { name: draft.name, description: draft.description, pins };
  }
  return out;
}
