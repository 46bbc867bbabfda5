// A test run with a summary in the shape jest prints.
const tests = [
  ["cart adds an item", () => 1 + 1 === 2],
  ["cart totals prices", () => [1, 2, 3].reduce((a, b) => a + b) === 6],
  ["formats currency", () => (1234.5).toFixed(2) === "1234.50"],
];
let passed = 0;
console.log("RUNS  src/cart.test.js");
for (const [name, fn] of tests) {
  const ok = fn();
  console.log(`  ${ok ? "✓" : "✕"} ${name}`);
  if (ok) passed += 1;
}
console.log("");
const failed = tests.length - passed;
console.log(`Tests:       ${failed ? `${failed} failed, ` : ""}${passed} passed, ${tests.length} total`);
process.exit(passed === tests.length ? 0 : 1);
