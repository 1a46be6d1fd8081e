// Sums the JSON reports every package's vitest run wrote (vitest.shared.ts) into one closing
// line, "N passed, N failed", so a run that executed no test cannot pass unnoticed.
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const dirs = ['packages', 'examples', 'tests'].flatMap((top) =>
  fs.existsSync(path.join(root, top)) ? fs.readdirSync(path.join(root, top)).map((d) => path.join(root, top, d)) : [],
);
let passed = 0;
let failed = 0;
let skipped = 0;
let reports = 0;
for (const dir of dirs) {
  const file = path.join(dir, '.vitest-report.json');
  if (!fs.existsSync(file)) continue;
  const report = JSON.parse(fs.readFileSync(file, 'utf8'));
  reports++;
  passed += report.numPassedTests ?? 0;
  failed += report.numFailedTests ?? 0;
  skipped += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  console.log(`${path.relative(root, dir)}: ${report.numPassedTests} passed, ${report.numFailedTests} failed`);
}
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
if (reports === 0 || passed === 0 || failed > 0) process.exit(1);
