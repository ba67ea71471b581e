// The floor's Node.js worker: the smallest Runtime API loop (node:http, keep-alive agent with one socket, noDelay).
// It runs the same handler as the Lambent function (bench/functions/echo.mjs, or $BENCH_FUNCTIONS_DIR/echo.mjs):
// GET /next, JSON.parse the event, await handler(event, {}), JSON.stringify the result, POST /response.
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const dir = process.env.BENCH_FUNCTIONS_DIR || path.join(here, '..', 'functions');
const { handler } = await import(pathToFileURL(path.join(dir, 'echo.mjs')).href);

const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(':');
const agent = new http.Agent({ keepAlive: true, maxSockets: 1, noDelay: true });
const PREFIX = '/2018-06-01/runtime/invocation/';

function call(method, urlPath, body) {
  return new Promise((resolve, reject) => {
    const headers = body === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) };
    const req = http.request({ host, port, method, path: urlPath, agent, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

for (;;) {
  const next = await call('GET', PREFIX + 'next');
  const id = next.headers['lambda-runtime-aws-request-id'];
  const result = await handler(JSON.parse(next.body), {});
  await call('POST', PREFIX + id + '/response', JSON.stringify(result));
}
