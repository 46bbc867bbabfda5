// A watcher that "type-checks" on a timer, printing tsc-style output: mostly clean, now and
// then an error with file:line:col, the way `tsc --watch` reports it.
let round = 0;
function check() {
  round += 1;
  const stamp = new Date().toLocaleTimeString("en-GB");
  console.log(`[${stamp}] File change detected. Starting incremental compilation...`);
  if (round % 3 === 0) {
    console.log("");
    console.log("src/components/Cart.tsx:14:7 - error TS2322: Type 'string' is not assignable to type 'number'.");
    console.log("");
    console.log("14       total: item.price,");
    console.log("         ~~~~~");
    console.log("");
    console.log(`[${stamp}] Found 1 error. Watching for file changes.`);
  } else {
    console.log(`[${stamp}] Found 0 errors. Watching for file changes.`);
  }
}
check();
const timer = setInterval(check, 2500);
process.on("SIGTERM", () => {
  clearInterval(timer);
  process.exit(0);
});
