#!/usr/bin/env node
// Runs the fixture pairs of .ci/spec-diff-fixtures in one process (loading Optic takes about a
// second; once per case would make the test slow): node fixtures.js DIR OUT. For each case folder
// of DIR, writes OUT/<case>.log (the report) and OUT/<case>.rc (0 pass, 1 fail, 2 error).
'use strict';
const fs = require('fs');
const path = require('path');
const { compare } = require('./spec-diff');

(async () => {
  const [dir, out] = process.argv.slice(2);
  for (const c of fs.readdirSync(dir).sort()) {
    const caseDir = path.join(dir, c);
    if (!fs.statSync(caseDir).isDirectory()) continue;
    const own = path.join(caseDir, 'base.yaml');
    const base = fs.existsSync(own) ? own : path.join(dir, 'base.yaml');
    let lines;
    let code;
    try {
      ({ lines, code } = await compare(base, path.join(caseDir, 'head.yaml'), path.join(caseDir, 'ack.yaml')));
    } catch (e) {
      lines = [String(e.stack || e)];
      code = 2;
    }
    fs.writeFileSync(path.join(out, `${c}.log`), lines.join('\n') + '\n');
    fs.writeFileSync(path.join(out, `${c}.rc`), `${code}\n`);
  }
})().catch((e) => {
  console.error(`fixtures: ${e.stack || e}`);
  process.exit(2);
});
