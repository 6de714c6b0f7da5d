#!/usr/bin/env node
// Validates a Teams app manifest OFFLINE against the official JSON schema that
// @microsoft/app-manifest bundles (build/json-schemas/teams/v1.x/MicrosoftTeams.schema.json).
//
//   node tools/validate-manifest.js manifest.json
//   ... | node tools/validate-manifest.js          (the manifest on stdin)
//
// The schema is the one the manifest's $schema URL names. The library would download a schema it
// does not bundle; this tool refuses instead, and switches fetch off, so it never goes online.
//
// Prints one JSON object on stdout: {"schema": "<bundled file>", "errors": ["/path message ...", ...]}
// Exit status: 0 valid, 1 schema errors, 2 no usable input or no bundled schema for its $schema
// (stderr says why).
"use strict";

const fs = require("fs");
const path = require("path");

// Nothing here may reach the network, whatever the library decides to do.
globalThis.fetch = async (url) => {
  throw new Error(`validate-manifest.js works offline and does not download ${url}`);
};

const { AppManifestUtils } = require("@microsoft/app-manifest");

const PACKAGE_DIR = path.dirname(require.resolve("@microsoft/app-manifest/package.json"));
const PACKAGE_VERSION = require("@microsoft/app-manifest/package.json").version;
const TEAMS_SCHEMAS = path.join(PACKAGE_DIR, "build", "json-schemas", "teams");

class Unusable extends Error {}

function bundledTeamsVersions() {
  try {
    return fs.readdirSync(TEAMS_SCHEMAS).sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
  } catch {
    return [];
  }
}

// The bundled schema file for the manifest's $schema URL, found the way the library finds it.
function bundledSchemaFile(manifest) {
  const url = manifest.$schema;
  if (typeof url !== "string" || url === "") {
    throw new Unusable("manifest.json has no $schema: it must name the official schema URL");
  }
  const suffix = AppManifestUtils.getLocalSchemaSuffix(url);
  const file = suffix === undefined ? undefined : path.join(PACKAGE_DIR, "build", suffix);
  if (file === undefined || !fs.existsSync(file)) {
    throw new Unusable(
      `the $schema ${url} is not bundled with @microsoft/app-manifest ${PACKAGE_VERSION}, ` +
        "so it cannot be checked offline; bundled Teams schemas: " +
        bundledTeamsVersions().join(", ")
    );
  }
  return file;
}

function readManifest() {
  const file = process.argv[2];
  let text;
  try {
    text = file ? fs.readFileSync(file, "utf8") : fs.readFileSync(0, "utf8");
  } catch (error) {
    throw new Unusable(`cannot read ${file || "stdin"}: ${error.message}`);
  }
  let manifest;
  try {
    manifest = JSON.parse(text.replace(/^\uFEFF/, ""));
  } catch (error) {
    throw new Unusable(`manifest.json is not JSON: ${error.message}`);
  }
  if (manifest === null || typeof manifest !== "object" || Array.isArray(manifest)) {
    throw new Unusable("manifest.json is not a JSON object");
  }
  return manifest;
}

async function main() {
  let manifest;
  let schemaFile;
  try {
    manifest = readManifest();
    schemaFile = bundledSchemaFile(manifest);
  } catch (error) {
    if (!(error instanceof Unusable)) throw error;
    process.stderr.write(`validate-manifest: ${error.message}\n`);
    return 2;
  }
  const errors = await AppManifestUtils.validateAgainstSchema(manifest);
  const schema = path.relative(PACKAGE_DIR, schemaFile);
  process.stdout.write(JSON.stringify({ schema, errors }, null, 2) + "\n");
  return errors.length > 0 ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`validate-manifest: ${error.stack || error}\n`);
    process.exitCode = 2;
  }
);
