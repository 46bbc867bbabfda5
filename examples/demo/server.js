// A tiny dev server: announces its URL like Vite/Next do, logs each request, and makes a few
// requests to itself so there is something to see.
const http = require("http");

const port = Number(process.env.PORT || 0);
const server = http.createServer((req, res) => {
  const started = process.hrtime.bigint();
  const status = req.url === "/missing" ? 404 : 200;
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify({ ok: status === 200, path: req.url }));
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  console.log(`${req.method} ${req.url} ${status} ${ms.toFixed(1)}ms`);
});

server.listen(port, "127.0.0.1", () => {
  const { port } = server.address();
  console.log("");
  console.log("  demo dev server ready");
  console.log("");
  console.log(`  ➜  Local:   http://localhost:${port}/`);
  console.log("");
  const paths = ["/", "/api/items", "/missing", "/api/items/42"];
  let i = 0;
  const timer = setInterval(() => {
    http.get({ host: "127.0.0.1", port, path: paths[i++ % paths.length] }, (r) => r.resume());
  }, 700);
  const stop = () => {
    clearInterval(timer);
    console.log("shutting down");
    server.close(() => process.exit(0));
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
});
