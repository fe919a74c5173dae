// The official Node SDK (@larksuiteoapi/node-sdk) against vc-mock, and its request types
// against the spec. Run by `cargo xtask official-clients`, which passes:
//   NODE_MODULES  the .tools/node_modules holding the pinned SDK and TypeScript
//   SPEC_JSON     spec/openapi.yaml converted to JSON
//   VC_MOCK_URL   the base URL of a running vc-mock (mode `call` only)
//   APP_ID, APP_SECRET, USER_TOKEN  what vc-mock accepts (mode `call` only)
//   REPORT        where to write the JSON report (the SDK logs on stdout)
// Usage: node node_sdk.cjs call|agree. Writes one JSON report; the caller asserts on it.
"use strict";

const fs = require("fs");
const path = require("path");

const modules = process.env.NODE_MODULES;
const spec = JSON.parse(fs.readFileSync(process.env.SPEC_JSON, "utf8"));
const sdkDir = path.join(modules, "@larksuiteoapi/node-sdk");
const METHODS = ["get", "put", "post", "delete", "patch"];

/** Follows a local $ref. */
function resolve(value) {
  for (let i = 0; value && value.$ref && i < 32; i++) {
    value = value.$ref.replace(/^#\//, "").split("/").reduce((node, key) => node[key], spec);
  }
  return value;
}

/** Every operation of the spec: id, METHOD, path, parameters (resolved), body schema and example. */
function specOperations() {
  const out = [];
  for (const [route, item] of Object.entries(spec.paths)) {
    const shared = (item.parameters || []).map(resolve);
    for (const method of METHODS) {
      const op = item[method];
      if (!op || !op.operationId) continue;
      const params = new Map();
      for (const p of shared.concat((op.parameters || []).map(resolve))) params.set(p.name, p);
      const body = op.requestBody ? resolve(op.requestBody) : undefined;
      const json = body && body.content && body.content["application/json"];
      const security = op.security || spec.security || [];
      out.push({
        id: op.operationId,
        key: `${method.toUpperCase()} ${route}`,
        params: [...params.values()],
        body: json ? json.schema : undefined,
        bodyRequired: !!(body && body.required),
        bodyExample: json ? json.example : undefined,
        download: !(op.responses["200"] && resolve(op.responses["200"]).content || {})["application/json"],
        userOnly: !security.some((s) => "tenant_access_token" in s),
        disagreements: op["x-feishu-disagreements"] || [],
      });
    }
  }
  return out;
}

/**
 * The SDK's typed VC v1 methods by `METHOD /path/{param}`, read from the SDK itself: each
 * method's source names its URL template (`:param`) and HTTP method.
 */
function sdkRoutes(v1) {
  const routes = new Map();
  for (const [resource, methods] of Object.entries(v1)) {
    for (const [name, fn] of Object.entries(methods || {})) {
      if (typeof fn !== "function") continue;
      const source = fn.toString();
      const url = /\/open-apis\/vc\/v1\/[^`'"]*/.exec(source);
      const method = /method:\s*"([A-Z]+)"/.exec(source);
      if (!url || !method) continue;
      const route = url[0].replace(/:([A-Za-z0-9_]+)/g, "{$1}");
      routes.set(`${method[1]} ${route}`, { resource, name });
    }
  }
  return routes;
}

/** The SDK payload built from the spec's examples. */
function payload(op) {
  const out = {};
  for (const p of op.params) {
    if (p.example === undefined) continue;
    const where = p.in === "path" ? "path" : "params";
    out[where] = out[where] || {};
    out[where][p.name] = p.example;
  }
  if (op.bodyExample !== undefined) out.data = op.bodyExample;
  return out;
}

async function callAll() {
  const lark = require(sdkDir);
  const client = new lark.Client({
    appId: process.env.APP_ID,
    appSecret: process.env.APP_SECRET,
    appType: lark.AppType.SelfBuild,
    domain: process.env.VC_MOCK_URL,
    loggerLevel: lark.LoggerLevel.fatal,
  });
  const routes = sdkRoutes(client.vc.v1);
  const report = { sdk: require(path.join(sdkDir, "package.json")).version, ok: [], failed: [], missing: [] };
  for (const op of specOperations()) {
    const method = routes.get(op.key);
    if (!method) {
      report.missing.push(op.id);
      continue;
    }
    const typed = client.vc.v1[method.resource][method.name];
    const options = op.userOnly ? lark.withUserAccessToken(process.env.USER_TOKEN) : undefined;
    const label = `${op.id} (client.vc.v1.${method.resource}.${method.name})`;
    try {
      const res = await typed(payload(op), options);
      if (op.download) {
        const chunks = [];
        for await (const chunk of res.getReadableStream()) chunks.push(chunk);
        const bytes = Buffer.concat(chunks).length;
        if (bytes > 0) report.ok.push(label);
        else report.failed.push({ op: label, error: "the download was empty" });
      } else if (res && res.code === 0) {
        report.ok.push(label);
      } else {
        report.failed.push({ op: label, error: `code ${res && res.code}: ${res && res.msg}` });
      }
    } catch (e) {
      const body = e && e.response && e.response.data;
      report.failed.push({ op: label, error: body ? JSON.stringify(body) : String(e && e.message) });
    }
  }
  return report;
}

// ---- agreement: the SDK's request types (types/index.d.ts) against the spec ----

/** A TypeScript type node as a small shape: {type, enum?, items?, fields?}. */
function shapeOf(ts, node) {
  if (!node) return { type: "unknown" };
  switch (node.kind) {
    case ts.SyntaxKind.StringKeyword:
      return { type: "string" };
    case ts.SyntaxKind.NumberKeyword:
      return { type: "number" };
    case ts.SyntaxKind.BooleanKeyword:
      return { type: "boolean" };
    case ts.SyntaxKind.ArrayType:
      return { type: "array", items: shapeOf(ts, node.elementType) };
    case ts.SyntaxKind.ParenthesizedType:
      return shapeOf(ts, node.type);
    case ts.SyntaxKind.TypeReference:
      if (node.typeName.getText() === "Array" && node.typeArguments && node.typeArguments.length === 1) {
        return { type: "array", items: shapeOf(ts, node.typeArguments[0]) };
      }
      return { type: "unknown" };
    case ts.SyntaxKind.TypeLiteral: {
      const fields = {};
      for (const member of node.members) {
        if (!member.name) continue;
        fields[member.name.getText()] = { required: !member.questionToken, shape: shapeOf(ts, member.type) };
      }
      return { type: "object", fields };
    }
    case ts.SyntaxKind.UnionType: {
      // `T | undefined` is T (optional members are spelt both ways).
      const types = node.types.filter((t) => t.kind !== ts.SyntaxKind.UndefinedKeyword
        && !(t.kind === ts.SyntaxKind.LiteralType && t.literal.kind === ts.SyntaxKind.NullKeyword));
      if (types.length === 1) return shapeOf(ts, types[0]);
      const literals = types.filter((t) => t.kind === ts.SyntaxKind.LiteralType);
      if (literals.length > 0 && literals.length === types.length) {
        const values = literals.map((t) => (t.literal.kind === ts.SyntaxKind.StringLiteral ? t.literal.text : Number(t.literal.getText())));
        return { type: typeof values[0] === "number" ? "number" : "string", enum: values };
      }
      return { type: "unknown" };
    }
    default:
      return { type: "unknown" };
  }
}

/** The `vc.v1` type literal of the SDK's Client: resource -> method -> payload type literal. */
function sdkRequestTypes(ts) {
  const file = path.join(sdkDir, "types/index.d.ts");
  const source = ts.createSourceFile(file, fs.readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
  const member = (literal, name) =>
    literal && literal.members && literal.members.find((m) => m.name && m.name.getText() === name);
  let v1;
  const visit = (node) => {
    if (v1) return;
    if ((node.kind === ts.SyntaxKind.PropertyDeclaration || node.kind === ts.SyntaxKind.PropertySignature) && node.name.getText() === "vc"
      && node.type && node.type.kind === ts.SyntaxKind.TypeLiteral) {
      const found = member(node.type, "v1");
      if (found && found.type && found.type.kind === ts.SyntaxKind.TypeLiteral) v1 = found.type;
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  if (!v1) throw new Error("no vc.v1 in the SDK's types");
  const out = {};
  for (const resource of v1.members) {
    if (!resource.type || !resource.type.kind === ts.SyntaxKind.TypeLiteral) continue;
    for (const method of resource.type.members) {
      if (!method.type || !method.type.kind === ts.SyntaxKind.FunctionType) continue;
      const first = method.type.parameters[0];
      const shape = first ? shapeOf(ts, first.type) : { type: "object", fields: {} };
      out[`${resource.name.getText()}.${method.name.getText()}`] = shape.fields || {};
    }
  }
  return out;
}

/** The spec schema as the same kind of shape. */
function specShape(schema, depth = 0) {
  schema = resolve(schema) || {};
  const type = { integer: "number", number: "number", string: "string", boolean: "boolean", array: "array", object: "object" }[schema.type] || "unknown";
  const shape = { type };
  if (schema.enum) shape.enum = schema.enum;
  if (type === "array") shape.items = specShape(schema.items, depth + 1);
  if (type === "object" && depth < 16) {
    shape.fields = {};
    const required = schema.required || [];
    for (const [name, field] of Object.entries(schema.properties || {})) {
      shape.fields[name] = { required: required.includes(name), shape: specShape(field, depth + 1) };
    }
  }
  return shape;
}

/** Differences between two shapes at `where` (`body.room_status.status`). */
function compareShapes(where, spec, sdk, out) {
  if (sdk.type === "unknown" || spec.type === "unknown") return;
  if (spec.type !== sdk.type) {
    out.push({ at: where, what: `the spec says ${spec.type}, the SDK ${sdk.type}` });
    return;
  }
  if (sdk.enum && spec.enum) {
    const a = [...spec.enum].map(String).sort();
    const b = [...sdk.enum].map(String).sort();
    if (a.join("|") !== b.join("|")) out.push({ at: where, what: `enum values: the spec has [${a}], the SDK [${b}]` });
  }
  if (spec.type === "array") compareShapes(`${where}[]`, spec.items, sdk.items, out);
  if (spec.type === "object" && sdk.fields && spec.fields) compareFields(where, spec.fields, sdk.fields, out);
}

function compareFields(where, specFields, sdkFields, out, ignoreRequired = false) {
  for (const [name, field] of Object.entries(specFields)) {
    const at = `${where}.${name}`;
    const other = sdkFields[name];
    if (!other) {
      out.push({ at, what: "in the spec, not in the SDK" });
      continue;
    }
    if (!ignoreRequired && field.required !== other.required) {
      out.push({ at, what: `the spec says ${field.required ? "required" : "optional"}, the SDK ${other.required ? "required" : "optional"}` });
    }
    compareShapes(at, field.shape, other.shape, out);
  }
  for (const name of Object.keys(sdkFields)) {
    if (!specFields[name]) out.push({ at: `${where}.${name}`, what: "in the SDK, not in the spec" });
  }
}

function agree() {
  const ts = require(path.join(modules, "typescript"));
  const types = sdkRequestTypes(ts);
  const lark = require(sdkDir);
  const routes = sdkRoutes(new lark.Client({ appId: "x", appSecret: "y", loggerLevel: lark.LoggerLevel.fatal }).vc.v1);
  const report = { sdk: require(path.join(sdkDir, "package.json")).version, compared: 0, fields: 0, differences: [], acknowledged: [], missing: [] };
  for (const op of specOperations()) {
    const method = routes.get(op.key);
    const payloadType = method && types[`${method.resource}.${method.name}`];
    if (!payloadType) {
      report.missing.push(op.id);
      continue;
    }
    report.compared += 1;
    const found = [];
    const sdkPart = (name) => (payloadType[name] && payloadType[name].shape.fields) || {};
    const params = (where) => {
      const fields = {};
      for (const p of op.params.filter((p) => p.in === where)) {
        fields[p.name] = { required: !!p.required, shape: specShape(p.schema) };
      }
      return fields;
    };
    // Path parameters are always optional in the SDK's types: compare names and types only.
    compareFields("path", params("path"), sdkPart("path"), found, true);
    compareFields("query", params("query"), sdkPart("params"), found);
    const body = op.body ? specShape(op.body) : { type: "object", fields: {} };
    // Whether the body itself is required is not compared: the SDK's types make `data`
    // optional whenever none of its fields is required, whatever the page says.
    compareFields("body", body.fields || {}, sdkPart("data"), found);
    const count = (fields) => Object.values(fields).reduce((n, f) => n + 1 + (f.shape.fields ? count(f.shape.fields) : 0) + (f.shape.items && f.shape.items.fields ? count(f.shape.items.fields) : 0), 0);
    report.fields += count(params("path")) + count(params("query")) + count(body.fields || {});
    for (const difference of found) {
      const entry = { op: op.id, ...difference };
      // Acknowledged: an x-feishu-disagreements entry names the field as `<at>` and the SDK.
      const acknowledged = op.disagreements.some((text) => text.includes("`" + difference.at + "`") && /SDK/.test(text));
      (acknowledged ? report.acknowledged : report.differences).push(entry);
    }
  }
  return report;
}

const mode = process.argv[2];
(mode === "call" ? callAll() : Promise.resolve().then(agree))
  .then((report) => fs.writeFileSync(process.env.REPORT, JSON.stringify(report, null, 1) + "\n"))
  .catch((e) => {
    process.stderr.write(`node_sdk.cjs ${mode}: ${e && e.stack ? e.stack : e}\n`);
    process.exit(2);
  });
