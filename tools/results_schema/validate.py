#!/usr/bin/python3
"""Checks a results_json document against docs/results.schema.json (JSON Schema draft 7).

  validate.py SCHEMA [FILE|-] [--definition NAME]   check FILE (stdin when absent or "-")
  validate.py SCHEMA --check-schema                 check that SCHEMA is a valid draft-7 schema

--definition NAME checks the document against #/definitions/NAME of the schema instead of
the whole results_json (e.g. "analysis" for what an analyzer alone returns).

Exit status: 0 valid; 1 invalid (every violation listed on stderr, one per line, with the
JSON path to it); 2 unusable input (unreadable file, malformed JSON, invalid schema).
Uses Debian's python3-jsonschema (4.10), hence /usr/bin/python3.
"""

import argparse
import json
import sys

import jsonschema

MAX_REPORTED = 25


def load_json(text, what):
    # NaN and Infinity are not JSON (RFC 8259), and PostgreSQL's JSONB refuses them: a
    # document carrying them is malformed, not merely invalid.
    def refuse(token):
        raise ValueError(f"{token} is not a JSON number")

    try:
        return json.loads(text, parse_constant=refuse)
    except ValueError as e:
        raise SystemExit(f"{what}: not JSON: {e}") from None


def json_path(error):
    path = "$"
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def dangling_refs(node, root, where="#"):
    """Local $refs that point nowhere (check_schema does not follow references)."""
    found = []
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            target = root
            try:
                for key in ref.lstrip("#").split("/")[1:]:
                    target = target[key]
            except (KeyError, TypeError):
                found.append(f"{where}: $ref {ref} points nowhere")
        for key, value in node.items():
            found += dangling_refs(value, root, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += dangling_refs(value, root, f"{where}/{i}")
    return found


def rule_of(error, root):
    """The description of the innermost conditional rule (if/then) the error comes from."""
    node, rule = root, None
    for part in error.absolute_schema_path:
        # jsonschema's schema paths step through a $ref without naming it; only local
        # references ("#/definitions/...") occur in this schema.
        while isinstance(node, dict) and part not in node and "$ref" in node:
            target = root
            for key in node["$ref"].lstrip("#").split("/")[1:]:
                target = target[key]
            node = target
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            break
        if isinstance(node, dict) and "if" in node and "description" in node:
            rule = node["description"]
    return rule


def describe(error, root=None):
    # A oneOf/anyOf failure names the whole alternative set; its closest branch says more.
    if error.context:
        best = jsonschema.exceptions.best_match(error.context)
        if best is not None and len(best.absolute_path) >= len(error.absolute_path):
            return describe(best, root)
    text = f"{json_path(error)}: {error.message}"
    rule = rule_of(error, root) if root is not None else None
    return f"{text} (rule: {rule})" if rule else text


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("schema", help="path of results.schema.json")
    parser.add_argument("document", nargs="?", default="-", help="JSON file; - or absent: stdin")
    parser.add_argument("--check-schema", action="store_true",
                        help="only check that the schema itself is a valid draft-7 schema")
    parser.add_argument("--definition", help="validate against #/definitions/NAME")
    args = parser.parse_args()

    try:
        with open(args.schema, encoding="utf-8") as f:
            schema = load_json(f.read(), args.schema)
    except OSError as e:
        raise SystemExit(f"{args.schema}: {e.strerror}") from None
    if schema.get("$schema") != "http://json-schema.org/draft-07/schema#":
        raise SystemExit(f"{args.schema}: $schema is not draft-07")
    try:
        jsonschema.Draft7Validator.check_schema(schema)
    except jsonschema.exceptions.SchemaError as e:
        raise SystemExit(f"{args.schema}: not a valid draft-7 schema: {describe(e)}") from None
    dangling = dangling_refs(schema, schema)
    if dangling:
        raise SystemExit(f"{args.schema}: " + "; ".join(dangling))
    if args.check_schema:
        print(f"{args.schema}: valid draft-7 schema")
        return 0

    if args.definition:
        if args.definition not in schema.get("definitions", {}):
            raise SystemExit(f"{args.schema}: no definition {args.definition!r}")
        schema = {"$ref": f"#/definitions/{args.definition}",
                  "definitions": schema["definitions"]}

    name = "stdin" if args.document == "-" else args.document
    try:
        if args.document == "-":
            text = sys.stdin.read()
        else:
            with open(args.document, encoding="utf-8") as f:
                text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise SystemExit(f"{name}: {getattr(e, 'strerror', None) or e}") from None
    document = load_json(text, name)

    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(document),
                    key=lambda e: (list(map(str, e.absolute_path)), e.message))
    if not errors:
        return 0
    what = f"#/definitions/{args.definition}" if args.definition else "results_json"
    print(f"{name}: does not match {what} of {args.schema} "
          f"({len(errors)} violation{'s' if len(errors) != 1 else ''}):", file=sys.stderr)
    for error in errors[:MAX_REPORTED]:
        print(f"  {describe(error, schema)}", file=sys.stderr)
    if len(errors) > MAX_REPORTED:
        print(f"  ... and {len(errors) - MAX_REPORTED} more", file=sys.stderr)
    return 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SystemExit as e:
        # Usage errors exit 2 already; messages (strings) are unusable input: exit 2 too.
        if isinstance(e.code, str):
            print(e.code, file=sys.stderr)
            sys.exit(2)
        raise
