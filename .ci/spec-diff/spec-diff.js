#!/usr/bin/env node
// The breaking-change report of openapi/openapi.yaml: what changed between two versions of the
// spec, each change classified breaking or not, and the gate (exit 1) for breaking changes.
//
//   node .ci/spec-diff/spec-diff.js BASE.yaml HEAD.yaml [--ack openapi/breaking-changes-ack.yaml]
//
// The diff and its classification are Optic's (@useoptic/* 1.0.9, pinned in package-lock.json):
// it reads OpenAPI 3.0/3.1 YAML, resolves $refs, and its `breaking-changes` ruleset covers
// removed operations, response properties and status codes, new required request properties and
// parameters, type changes, and enum changes (a value removed from a request or added to a
// response is breaking: the generated client's enums are closed). Rules are added here for what
// that ruleset does not check: security requirements and this API's `x-roles` (an operation may
// not let fewer callers in), and constraints (a request may only loosen, a response only
// tighten: maxLength, minimum, pattern, ...). What this file adds besides is the policy
// (.ci/spec-breaking.sh explains it), the report, and dropping unchanged operations before the
// diff (Optic's rule runner is slow on a spec this size).
'use strict';
const fs = require('fs');
const path = require('path');
const io = require('@useoptic/openapi-io');
const ou = require('@useoptic/openapi-utilities');
const rb = require('@useoptic/rulesets-base');
const { BreakingChangesRuleset } = require('@useoptic/standard-rulesets');

// ---- the added rules ---------------------------------------------------------------------

// The alternatives of `security`, each as scheme -> scopes. No `security` at all, or
// `security: []`, lets anyone in: one alternative that asks for nothing.
const alternatives = (security) =>
  security == null || security.length === 0 ? [{}] : security.map((alt) => alt || {});
// Every caller that the base let in must still be let in: each base alternative must be covered by
// a head alternative that asks for no scheme and no scope it did not ask for.
function securityNarrowed(before, after) {
  const b = alternatives(before);
  const a = alternatives(after);
  return b.filter((alt) => !a.some((cand) => Object.entries(cand).every(([scheme, scopes]) =>
    scheme in alt && (scopes || []).every((s) => (alt[scheme] || []).includes(s)))));
}
const showSecurity = (s) => (s == null ? 'none' : JSON.stringify(s));

// `x-roles` (this project's extension: the roles an operation lets in) may gain roles, not lose
// them: a caller of a dropped role would get 403.
const securityRule = new rb.OperationRule({
  name: 'prevent narrowing security requirements',
  rule: (operation) => {
    operation.changed((before, after) => {
      const problems = [];
      const lost = securityNarrowed(before.security, after.security);
      if (lost.length) {
        problems.push(`security ${showSecurity(before.security)} -> ${showSecurity(after.security)}: ` +
          `callers with ${lost.map((alt) => JSON.stringify(alt)).join(' or ')} are no longer let in`);
      }
      const rolesBefore = before.raw?.['x-roles'];
      const rolesAfter = after.raw?.['x-roles'];
      if (Array.isArray(rolesAfter)) {
        const dropped = Array.isArray(rolesBefore) ? rolesBefore.filter((r) => !rolesAfter.includes(r)) : ['(any role)'];
        if (dropped.length) problems.push(`x-roles ${JSON.stringify(rolesBefore ?? null)} -> ${JSON.stringify(rolesAfter)}: ${dropped.join(', ')} no longer let in`);
      }
      if (problems.length) throw new rb.RuleError({ message: `${problems.join('; ')}. This is a breaking change.` });
    });
  },
});

// Keyword -> how a change of it narrows (`tighter`) or widens the set of accepted values.
const UPPER = ['maxLength', 'maximum', 'maxItems', 'maxProperties'];
const LOWER = ['minLength', 'minimum', 'minItems', 'minProperties'];
const OPAQUE = ['pattern', 'format', 'multipleOf']; // added: tighter; removed: wider; changed: both
function constraintChanges(b, a) {
  b = b || {};
  a = a || {};
  const out = []; // {keyword, before, after, tighter, wider}
  const push = (k, tighter, wider) => out.push({ keyword: k, before: b[k], after: a[k], tighter, wider });
  for (const k of UPPER) {
    if (b[k] === a[k]) continue;
    push(k, a[k] !== undefined && (b[k] === undefined || a[k] < b[k]), b[k] !== undefined && (a[k] === undefined || a[k] > b[k]));
  }
  for (const k of LOWER) {
    if (b[k] === a[k]) continue;
    push(k, a[k] !== undefined && (b[k] === undefined || a[k] > b[k]), b[k] !== undefined && (a[k] === undefined || a[k] < b[k]));
  }
  for (const k of ['exclusiveMaximum', 'exclusiveMinimum', 'uniqueItems']) {
    if (!!b[k] === !!a[k] || typeof (a[k] ?? b[k]) !== 'boolean') continue;
    push(k, !!a[k], !!b[k]);
  }
  if (!!b.nullable !== !!a.nullable) push('nullable', !a.nullable, !!a.nullable);
  // `additionalProperties: false` refuses members it did not before (tighter); dropping it
  // admits them (wider). A schema-valued change is left to Optic's own diff.
  if ((b.additionalProperties === false) !== (a.additionalProperties === false)) {
    push('additionalProperties', a.additionalProperties === false, b.additionalProperties === false);
  }
  for (const k of OPAQUE) {
    if (JSON.stringify(b[k]) === JSON.stringify(a[k])) continue;
    push(k, a[k] !== undefined, b[k] !== undefined);
  }
  return out;
}
const show = (v) => (v === undefined ? '(none)' : JSON.stringify(v));
function checkConstraints(before, after, inRequest, what) {
  const bad = constraintChanges(before, after).filter((c) => (inRequest ? c.tighter : c.wider));
  if (bad.length) {
    throw new rb.RuleError({
      message: `${what}: ${bad.map((c) => `${c.keyword} ${show(c.before)} -> ${show(c.after)}`).join(', ')} ` +
        `(${inRequest ? 'a request may only loosen' : 'a response may only tighten'}). This is a breaking change.`,
    });
  }
}
const schemaOf = (x) => x.raw || x.value?.flatSchema || {};
// A body's `raw` is its media type object; its schema is one level down.
const bodySchemaOf = (x) => x.raw?.schema || x.value?.flatSchema || {};

const constraintRules = [
  new rb.OperationRule({
    name: 'prevent tightening parameter constraints',
    rule: (operation) => {
      for (const kind of ['queryParameter', 'pathParameter', 'headerParameter', 'cookieParameter']) {
        operation[kind].changed((before, after) =>
          checkConstraints(before.value.schema, after.value.schema, true, `${kind.replace('Parameter', '')} parameter '${after.value.name}'`));
      }
    },
  }),
  new rb.RequestRule({
    name: 'prevent tightening request constraints',
    rule: (request) => {
      request.body.changed((before, after) => checkConstraints(bodySchemaOf(before), bodySchemaOf(after), true, 'request body'));
      request.property.changed((before, after) =>
        checkConstraints(schemaOf(before), schemaOf(after), true, `request property '${after.value.key}'`));
    },
  }),
  new rb.ResponseBodyRule({
    name: 'prevent widening response constraints',
    rule: (response) => {
      response.body.changed((before, after) => checkConstraints(bodySchemaOf(before), bodySchemaOf(after), false, 'response body'));
      response.property.changed((before, after) =>
        checkConstraints(schemaOf(before), schemaOf(after), false, `response property '${after.value.key}'`));
    },
  }),
];

const addedRules = new rb.Ruleset({ name: 'storefront additions', rules: [securityRule, ...constraintRules] });

// ---- diff ----------------------------------------------------------------------------------

async function load(file) {
  const parsed = await io.parseOpenAPIWithSourcemap(path.resolve(file));
  const version = io.checkOpenAPIVersion(parsed.jsonLike);
  io.validateOpenApiV3Document(parsed.jsonLike, parsed.sourcemap, { strictOpenAPI: false });
  return io.denormalize({ ...parsed, version, isEmptySpec: false }, version, []);
}

// Optic's rule runner takes about 20 s of CPU on this project's spec, most of it on operations
// that did not change. An operation that is the same in both (after $refs are inlined, with the
// same top-level security) can have no change to report: both copies are dropped before the diff.
function pruneUnchanged(base, head) {
  const same = (a, b) => {
    try {
      return JSON.stringify(a) === JSON.stringify(b);
    } catch {
      return false; // a recursive schema: leave it to Optic
    }
  };
  if (!same(base.security, head.security)) return;
  for (const [p, item] of Object.entries(base.paths || {})) {
    const other = head.paths?.[p];
    if (!item || !other) continue;
    for (const m of METHODS) {
      if (item[m] && other[m] && same(item[m], other[m])) {
        delete item[m];
        delete other[m];
      }
    }
    if (!METHODS.some((m) => item[m]) && !METHODS.some((m) => other[m])) {
      delete base.paths[p];
      delete head.paths[p];
    }
  }
}

const pointer = (spec, p) => {
  let v = spec;
  for (const part of p.split('/').slice(1)) {
    if (v == null) return undefined;
    v = v[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return v;
};

// A short description of a changed value: for objects, the keys whose values differ (nested
// schemas are their own entries); for scalars, before -> after.
const NESTED = new Set(['properties', 'items', 'content', 'responses', 'parameters', 'requestBody', 'allOf', 'oneOf', 'anyOf', 'not', 'additionalProperties', 'headers', 'schema', 'examples', 'example', 'description', 'summary']);
function describe(change, before, after) {
  if (change === 'added') return summarize(after);
  if (change === 'removed') return summarize(before);
  if (isObj(before) && isObj(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((k) => !NESTED.has(k));
    const diff = keys.filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
    return diff.map((k) => `${k}: ${show(before[k])} -> ${show(after[k])}`).join(', ');
  }
  return `${show(before)} -> ${show(after)}`;
}
const isObj = (v) => v && typeof v === 'object' && !Array.isArray(v);
function summarize(v) {
  if (!isObj(v)) return show(v);
  const parts = Object.entries(v).filter(([k]) => !NESTED.has(k)).map(([k, x]) => `${k}: ${JSON.stringify(x)}`);
  const s = parts.join(', ');
  return s.length > 120 ? s.slice(0, 117) + '...' : s;
}

// Readable names for Optic's locations: a field key or a trail (`/schema/properties/a/items`)
// becomes `a[]`; array indexes are dropped (the value is in the detail).
function prettify(trail) {
  const parts = (trail || '').split('/').slice(1).map((x) => x.replace(/~1/g, '/').replace(/~0/g, '~'));
  let out = '';
  for (let i = parts[0] === 'schema' ? 1 : 0; i < parts.length; i++) {
    if (parts[i] === 'properties' && i + 1 < parts.length) out += '.' + parts[++i];
    else if (parts[i] === 'items') out += '[]';
    else if (!/^\d+$/.test(parts[i])) out += '.' + parts[i];
  }
  return out.replace(/^\./, '');
}

// Flattens Optic's grouped diff into entries {operation, where, change, detail, rules[]}; each
// failed rule is attached to the change it is about (same location, or below it).
function flatten(grouped, from, to) {
  const entries = [];
  const removed = []; // pointers of removed parts: what Optic then says of their children is folded in
  const add = (operation, label, node) => {
    const mine = [];
    for (const d of node.diffs || []) {
      if (d.change === 'removed' && d.before) removed.push(d.before);
      const before = d.before ? pointer(from, d.before) : undefined;
      const after = d.after ? pointer(to, d.after) : undefined;
      const where = [label, prettify(d.trail)].filter(Boolean).join(' ');
      let detail = describe(d.change, before, after).replace(/\s+/g, ' ');
      if (detail.length > 160) detail = detail.slice(0, 157) + '...';
      mine.push({ operation, where, change: d.change, detail, rules: [], at: d.after || d.before });
    }
    for (const r of (node.rules || []).filter((x) => !x.passed)) {
      const at = r.location.jsonPath;
      if (removed.some((p) => at.startsWith(p + '/'))) continue;
      // The change at the rule's location; else, of the changes below it, the one whose keyword
      // (maxLength, pattern, enum...) the message names, or a type change; else the first that is
      // not a description.
      const below = mine.filter((x) => x.at.startsWith(at + '/'));
      const key = (x) => x.at.split('/').filter((k) => !/^\d+$/.test(k)).pop();
      let e = mine.find((x) => x.at === at) || below.find((x) => r.error.includes(key(x))) ||
        below.find((x) => key(x) === 'type') || below.find((x) => key(x) !== 'description') || below[0] || mine[0];
      if (!e) mine.push((e = { operation, where: label, change: 'changed', detail: '', rules: [], at }));
      e.rules.push({ name: r.name, message: r.error });
    }
    entries.push(...mine);
  };
  const walkContents = (op, prefix, contents) => {
    for (const [ct, c] of Object.entries(contents || {})) {
      add(op, `${prefix} ${ct}`, c);
      for (const [field, f] of Object.entries(c.fields || {})) add(op, `${prefix} ${ct} ${prettify(field) || '(body)'}`, f);
    }
  };
  add('(spec)', 'specification', grouped.specification);
  for (const ep of Object.values(grouped.endpoints)) {
    const op = `${ep.method} ${ep.path}`;
    const first = entries.length;
    add(op, 'operation', ep);
    for (const kind of ['query', 'path', 'header', 'cookie']) {
      for (const [name, p] of Object.entries(ep[`${kind}Parameters`] || {})) add(op, `${kind} parameter '${name}'`, p);
    }
    add(op, 'request', ep.request);
    walkContents(op, 'request', ep.request.contents);
    for (const [status, r] of Object.entries(ep.responses || {})) {
      add(op, `response ${status}`, r);
      for (const [h, hd] of Object.entries(r.headers || {})) add(op, `response ${status} header '${h}'`, hd);
      walkContents(op, `response ${status}`, r.contents);
    }
    // A removed operation: one entry, not one per part of it.
    const removed = entries.slice(first).find((e) => e.where === 'operation' && e.change === 'removed');
    if (removed) {
      removed.detail = '';
      removed.rules = removed.rules.filter((r) => r.name === 'prevent operation removal');
      entries.splice(first, entries.length - first, removed);
    }
  }
  return entries;
}

// ---- policy --------------------------------------------------------------------------------

const major = (spec) => {
  const m = /^\s*v?(\d+)/.exec(String(spec?.info?.version ?? ''));
  return m ? Number(m[1]) : null;
};
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
function deprecatedOperations(spec) {
  const out = new Set();
  for (const [p, item] of Object.entries(spec.paths || {})) {
    for (const m of METHODS) if (item?.[m]?.deprecated === true) out.add(`${m.toUpperCase()} ${p}`);
  }
  return out;
}
function loadAcks(file) {
  if (!file || !fs.existsSync(file)) return [];
  const doc = io.loadYaml(fs.readFileSync(file, 'utf8')) || {};
  const list = doc.acknowledged || [];
  if (!Array.isArray(list)) throw new Error(`${file}: 'acknowledged' must be a list`);
  list.forEach((a, i) => {
    for (const k of ['operation', 'change', 'reason', 'reviewer']) {
      if (typeof a?.[k] !== 'string' || !a[k].trim()) throw new Error(`${file}: entry ${i + 1} lacks '${k}'`);
    }
  });
  return list;
}
const changeText = (e) => `${e.where} ${e.change}`;

// Compares two spec files; returns the report's lines and the exit code (0 pass, 1 fail).
async function compare(baseFile, headFile, ackFile) {
  const lines = [];
  const log = (l) => lines.push(l);
  const acks = loadAcks(ackFile);
  const [base, head] = await Promise.all([load(baseFile), load(headFile)]);
  pruneUnchanged(base.jsonLike, head.jsonLike);
  const runner = new rb.RuleRunner([new BreakingChangesRuleset(), addedRules]);
  const result = await ou.compareSpecs(base, head, runner, {});
  const grouped = ou.groupDiffsByEndpoint({ from: base.jsonLike, to: head.jsonLike }, result.diffs, result.results);
  const entries = flatten(grouped, base.jsonLike, head.jsonLike);

  const baseMajor = major(base.jsonLike);
  const headMajor = major(head.jsonLike);
  const majorBump = baseMajor != null && headMajor != null && headMajor > baseMajor;
  const deprecated = deprecatedOperations(base.jsonLike);
  const usedAcks = new Set();

  log(`info.version ${base.jsonLike.info?.version} -> ${head.jsonLike.info?.version}` +
    (majorBump ? ' (major bump: breaking changes allowed)' : ''));
  if (!entries.length) log('no changes to operations');
  let blocking = 0;
  let breaking = 0;
  let lastOp = null;
  for (const e of entries) {
    if (e.operation !== lastOp) {
      log(`\n${e.operation}${deprecated.has(e.operation) ? ' (deprecated)' : ''}`);
      lastOp = e.operation;
    }
    let tag = 'non-breaking';
    let why = '';
    if (e.rules.length) {
      breaking++;
      tag = 'BREAKING';
      const ack = acks.findIndex((a) => a.operation === e.operation && a.change === changeText(e));
      if (deprecated.has(e.operation)) why = ' [allowed: the operation was deprecated]';
      else if (majorBump) why = ' [allowed: major version bump]';
      else if (ack >= 0) {
        usedAcks.add(ack);
        why = ` [acknowledged by ${acks[ack].reviewer}: ${acks[ack].reason}]`;
      } else {
        blocking++;
        why = ' [FAILS]';
      }
    }
    log(`  ${tag.padEnd(12)} ${changeText(e)}${e.detail ? `: ${e.detail}` : ''}${why}`);
    for (const r of e.rules) log(`               - ${r.message}`);
  }
  acks.forEach((a, i) => {
    if (!usedAcks.has(i)) log(`\nnote: acknowledgement ${i + 1} (${a.operation}: ${a.change}) matched no change`);
  });
  log(`\n${entries.length} changes, ${breaking} breaking, ${blocking} not allowed`);
  if (blocking) {
    log('Breaking changes fail unless the operation was deprecated, info.version\'s major is bumped, ' +
      'or the change is listed in openapi/breaking-changes-ack.yaml (operation and change as printed above).');
  }
  return { lines, code: blocking ? 1 : 0 };
}

async function main() {
  const args = process.argv.slice(2);
  const ackAt = args.indexOf('--ack');
  const ackFile = ackAt >= 0 ? args.splice(ackAt, 2)[1] : null;
  const [baseFile, headFile] = args;
  if (!baseFile || !headFile) {
    console.error('usage: spec-diff.js BASE.yaml HEAD.yaml [--ack FILE]');
    process.exit(2);
  }
  const { lines, code } = await compare(baseFile, headFile, ackFile);
  console.log(lines.join('\n'));
  process.exit(code);
}

module.exports = { compare };
if (require.main === module) {
  main().catch((e) => {
    console.error(`spec-diff: ${e.stack || e}`);
    process.exit(2);
  });
}
