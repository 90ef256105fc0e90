// Validates AsyncAPI documents with the AsyncAPI project's parser: prints
// `valid FILE` or `invalid FILE` and the errors; exits 1 if any is invalid.
import { Parser, fromFile } from '@asyncapi/parser';
const parser = new Parser();
let bad = 0;
for (const f of process.argv.slice(2)) {
  const { document, diagnostics } = await fromFile(parser, f).parse();
  const errors = diagnostics.filter(d => d.severity === 0);
  if (!document || errors.length) { bad++; console.log(`invalid ${f}`); for (const e of errors) console.log(`  ${JSON.stringify(e.path)} ${e.message}`); }
  else console.log(`valid ${f}`);
}
process.exit(bad ? 1 : 0);
