#!/usr/bin/env node
// Validates Adaptive Cards the way Teams' renderer reads them (adaptivecards 3.0.6, card
// version 1.5), plus the mistakes that parser lets through.
//
//   node tools/validate-card.js card.json [more.json ...]   (each file: a card or an array of cards)
//   ... | node tools/validate-card.js                       (stdin: a card or an array of cards)
//
// An item may also be {"template": <card>, "data": <object>}: it is expanded with
// adaptivecards-templating first, and the expanded card is validated.
//
// Prints one JSON array on stdout: [{"source": "card.json#0", "errors": [...], "warnings": [...]}]
// Exit status: 0 all valid, 1 some card has errors, 2 unreadable input.
"use strict";

const fs = require("fs");
// The UMD build: the package's main entry expects a browser and fails to load in Node.
const AC = require("adaptivecards/dist/adaptivecards.js");
const ACData = require("adaptivecards-templating");

const TARGET = AC.Versions.v1_5; // what Teams renders
const WARNING_EVENTS = new Set([AC.ValidationEvent.Hint, AC.ValidationEvent.Deprecated]);

function describe(source) {
  if (!source || typeof source.getJsonTypeName !== "function") return "card";
  const id = source.id ? ` "${source.id}"` : "";
  return `${source.getJsonTypeName()}${id}`;
}

function parseVersion(text) {
  const match = /^(\d+)\.(\d+)$/.exec(String(text));
  return match ? [Number(match[1]), Number(match[2])] : null;
}

// What the parser does not report (checked on the raw JSON, anywhere in the card).
function ownChecks(card) {
  const errors = [];
  if (card === null || typeof card !== "object" || Array.isArray(card)) {
    return ["the card is not a JSON object"];
  }
  if (card.type !== "AdaptiveCard") errors.push('$: type must be "AdaptiveCard"');
  const version = parseVersion(card.version);
  if (version === null) {
    errors.push("$: version is missing or not like 1.5");
  } else if (version[0] > TARGET.major || (version[0] === TARGET.major && version[1] > TARGET.minor)) {
    errors.push(`$: version ${card.version} is newer than Teams renders (${TARGET.toString()})`);
  }
  const walk = (node, path) => {
    if (Array.isArray(node)) {
      node.forEach((child, index) => walk(child, `${path}[${index}]`));
      return;
    }
    if (node === null || typeof node !== "object") return;
    if (node.type === "AdaptiveCard" && node.body !== undefined && !Array.isArray(node.body)) {
      errors.push(`${path}.body: must be an array of elements`);
    }
    if (node.type === "Image" && (typeof node.url !== "string" || node.url === "")) {
      errors.push(`${path} (Image): url is missing`);
    }
    if (node.type === "TextBlock" && (typeof node.text !== "string" || node.text === "")) {
      errors.push(`${path} (TextBlock): text is missing`);
    }
    for (const [key, value] of Object.entries(node)) walk(value, `${path}.${key}`);
  };
  walk(card, "$");
  return errors;
}

function validate(item) {
  let card = item;
  if (item && typeof item === "object" && !Array.isArray(item) && "template" in item) {
    card = new ACData.Template(item.template).expand({ $root: item.data ?? {} });
  }
  const errors = ownChecks(card);
  const warnings = [];
  if (errors.length > 0 && errors[0] === "the card is not a JSON object") return { errors, warnings };

  const context = new AC.SerializationContext(TARGET);
  const parsed = new AC.AdaptiveCard();
  parsed.parse(card, context);
  const events = [];
  for (let i = 0; i < context.eventCount; i++) events.push(context.getEventAt(i));
  events.push(...parsed.validateProperties().validationEvents);
  for (const event of events) {
    const text = `${describe(event.source)}: ${event.message}`;
    (WARNING_EVENTS.has(event.event) ? warnings : errors).push(text);
  }
  return { errors, warnings };
}

function readInputs() {
  const files = process.argv.slice(2);
  if (files.length === 0) return [{ name: "stdin", text: fs.readFileSync(0, "utf8") }];
  return files.map((name) => ({ name, text: fs.readFileSync(name, "utf8") }));
}

function main() {
  const results = [];
  let inputs;
  try {
    inputs = readInputs().map(({ name, text }) => ({ name, json: JSON.parse(text) }));
  } catch (error) {
    process.stderr.write(`validate-card: cannot read the input: ${error.message}\n`);
    return 2;
  }
  for (const { name, json } of inputs) {
    const items = Array.isArray(json) ? json : [json];
    items.forEach((item, index) => {
      let outcome;
      try {
        outcome = validate(item);
      } catch (error) {
        outcome = { errors: [`cannot parse the card: ${error.message}`], warnings: [] };
      }
      results.push({ source: `${name}#${index}`, ...outcome });
    });
  }
  process.stdout.write(JSON.stringify(results, null, 2) + "\n");
  return results.some((result) => result.errors.length > 0) ? 1 : 0;
}

process.exitCode = main();
