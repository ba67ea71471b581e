// Lambent's Node.js runtime interface client.
//
// Speaks the Lambda Runtime API (2018-06-01) the way AWS's own Node.js runtime interface client does,
// so that user functions behave as on AWS. Node built-ins only; started by the server as
//
//     node $LAMBDA_RUNTIME_DIR/bootstrap.mjs        (cwd = $LAMBDA_TASK_ROOT)
//
// References are to /work/shared/docs/lambda-contract.md: §4.2 init error table, §5 Runtime API,
// §6.3 handler rules, §6.4 context object, §6.5 log formats, §6.6 error JSON, §6.7 framed log fd.

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import util from 'node:util';
import { Writable } from 'node:stream';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
const API_PREFIX = '/2018-06-01/runtime';

// ------------------------------------------------------------------------------------------------
// Errors (§4.2, §6.6)
// ------------------------------------------------------------------------------------------------

// Runtime.* error classes. The name lives on the prototype so that the stack header V8 captures at
// construction already reads e.g. "Runtime.ImportModuleError: Error: Cannot find module 'index'".
function runtimeErrorClass(shortName) {
  const cls = { [shortName]: class extends Error {} }[shortName];
  cls.prototype.name = `Runtime.${shortName}`;
  return cls;
}
const ImportModuleError = runtimeErrorClass('ImportModuleError');
const HandlerNotFound = runtimeErrorClass('HandlerNotFound');
const MalformedHandlerName = runtimeErrorClass('MalformedHandlerName');
const UserCodeSyntaxError = runtimeErrorClass('UserCodeSyntaxError');
const MalformedStreamingHandler = runtimeErrorClass('MalformedStreamingHandler');
const NodeJsExit = runtimeErrorClass('NodeJsExit');
class UnhandledPromiseRejection extends Error {
  constructor(reason, promise) {
    super(reason); // message = String(reason), e.g. "Error: boom"
    this.reason = reason;
    this.promise = promise;
  }
}
UnhandledPromiseRejection.prototype.name = 'Runtime.UnhandledPromiseRejection';

const NODE_JS_EXIT_MESSAGE =
  'The Lambda runtime client detected an unexpected Node.js exit code. This is most commonly ' +
  'caused by a Promise that was never settled. For more information, see ' +
  'https://nodejs.org/docs/latest/api/process.html#exit-codes';

function isErrorLike(value) {
  return Boolean(value) && typeof value.name === 'string' && typeof value.message === 'string' &&
    typeof value.stack === 'string' && value.name !== '' && value.message !== '';
}

// The body posted to /error and /init/error: {errorType, errorMessage, trace}. Anything that is not
// an Error reports its typeof as errorType (e.g. callback("x") → "string").
function toRapidResponse(error) {
  try {
    if (util.types.isNativeError(error) || isErrorLike(error)) {
      return { errorType: error.name, errorMessage: error.message, trace: String(error.stack).split('\n') };
    }
    return { errorType: typeof error, errorMessage: error.toString(), trace: [] };
  } catch {
    return {
      errorType: 'handled',
      errorMessage: 'callback called with Error argument, but there was a problem while retrieving ' +
        'one or more of its message, name, and stack',
    };
  }
}

// Errors as they appear in log lines: name, message, code and the user's enumerable properties,
// then the stack as an array of lines. Always starts with a tab (AWS's format).
function withEnumerableProperties(value) {
  if (!(value instanceof Error)) return value;
  const out = Object.assign({ errorType: value.name, errorMessage: value.message, code: value.code }, value);
  if (typeof value.stack === 'string') out.stack = value.stack.split('\n');
  return out;
}
function toFormatted(error) {
  try {
    return '\t' + JSON.stringify(error, (_key, value) => withEnumerableProperties(value));
  } catch {
    return '\t' + JSON.stringify(toRapidResponse(error));
  }
}
const intoError = (value) => (value instanceof Error ? value : new Error(value));

// ------------------------------------------------------------------------------------------------
// Console patch (§6.5, §6.7)
// ------------------------------------------------------------------------------------------------

const LEVELS = {
  TRACE: { name: 'TRACE', priority: 1, mask: 0b00100 },
  DEBUG: { name: 'DEBUG', priority: 2, mask: 0b01000 },
  INFO: { name: 'INFO', priority: 3, mask: 0b01100 },
  WARN: { name: 'WARN', priority: 4, mask: 0b10000 },
  ERROR: { name: 'ERROR', priority: 5, mask: 0b10100 },
  FATAL: { name: 'FATAL', priority: 6, mask: 0b11000 },
};
const JSON_LOGS = process.env.AWS_LAMBDA_LOG_FORMAT?.toUpperCase() === 'JSON';

// Same global slot as AWS's client, so code that peeks at it keeps working. `undefined` outside an
// invocation, which is what the log lines then show.
const REQUEST_ID = Symbol.for('aws.lambda.runtime.requestId');
const currentRequestId = () => globalThis[REQUEST_ID];

function jsonErrorReplacer(_key, value) {
  if (value instanceof Error) {
    return Object.assign({
      errorType: value?.constructor?.name ?? 'UnknownError',
      errorMessage: value.message,
      stackTrace: typeof value.stack === 'string' ? value.stack.split('\n') : value.stack,
    }, value);
  }
  return value;
}

// {"timestamp","level","requestId","message"} (+ errorType/errorMessage/stackTrace for errors).
function formatJsonLine(time, level, params) {
  const record = { timestamp: time, level: level.name, requestId: currentRequestId() };
  if (params.length === 1) {
    record.message = params[0];
    try {
      return JSON.stringify(record, jsonErrorReplacer);
    } catch {
      record.message = util.format(record.message);
      return JSON.stringify(record);
    }
  }
  record.message = util.format(...params);
  const error = params.find((p) => p instanceof Error);
  if (error) {
    record.errorType = error?.constructor?.name ?? 'UnknownError';
    record.errorMessage = error.message;
    record.stackTrace = typeof error.stack === 'string' ? error.stack.split('\n') : [];
  }
  return JSON.stringify(record);
}

function formatLine(date, level, params) {
  const time = date.toISOString();
  if (JSON_LOGS) return formatJsonLine(time, level, params);
  return `${time}\t${currentRequestId()}\t${level.name}\t${util.format(...params)}\n`;
}

// Returns write(level, params): one write per log call, to stdout or as a telemetry frame.
function makeLogWriter() {
  const fdText = process.env._LAMBDA_TELEMETRY_LOG_FD;
  if (fdText !== undefined) {
    // AWS's clients consume the variable so that child processes do not inherit it.
    delete process.env._LAMBDA_TELEMETRY_LOG_FD;
    const fd = Number.parseInt(fdText, 10);
    if (Number.isInteger(fd)) {
      const base = JSON_LOGS ? 0xa55a0002 : 0xa55a0003;
      return (level, params) => {
        const date = new Date();
        const message = Buffer.from(formatLine(date, level, params), 'utf8');
        const frame = Buffer.allocUnsafe(16 + message.length);
        frame.writeUInt32BE((base | level.mask) >>> 0, 0);
        frame.writeUInt32BE(message.length, 4);
        frame.writeBigUInt64BE(BigInt(date.getTime()) * 1000n, 8);
        message.copy(frame, 16);
        fs.writeSync(fd, frame);
      };
    }
  }
  return (level, params) => {
    let line = formatLine(new Date(), level, params);
    if (JSON_LOGS) line += '\n';
    process.stdout.write(line); // stdout pipes are synchronous on Linux: ordered before any POST
  };
}

const writeLog = makeLogWriter();
const minimumLevel = LEVELS[process.env.AWS_LAMBDA_LOG_LEVEL?.toUpperCase()] ?? LEVELS.TRACE;
const logAt = (level, ...params) => {
  if (level.priority >= minimumLevel.priority) writeLog(level, params);
};

function patchConsole() {
  const bind = (level) => (level.priority >= minimumLevel.priority
    ? (...params) => writeLog(level, params.length ? params : [undefined])
    : () => {});
  console.trace = bind(LEVELS.TRACE);
  console.debug = bind(LEVELS.DEBUG);
  console.info = bind(LEVELS.INFO);
  console.log = console.info;
  console.warn = bind(LEVELS.WARN);
  console.error = bind(LEVELS.ERROR);
  console.fatal = (...params) => writeLog(LEVELS.FATAL, params.length ? params : [undefined]);
}

// "Invoke Error", "Uncaught Exception", "Unhandled Promise Rejection" report lines.
function logError(label, error) {
  if (JSON_LOGS) logAt(LEVELS.ERROR, intoError(error));
  else logAt(LEVELS.ERROR, label, toFormatted(intoError(error)));
}

// ------------------------------------------------------------------------------------------------
// Runtime API client (§5): one keep-alive connection, reused.
// ------------------------------------------------------------------------------------------------

const [apiHost, apiPort] = (() => {
  const address = process.env.AWS_LAMBDA_RUNTIME_API ?? '127.0.0.1:9001';
  const colon = address.lastIndexOf(':');
  return [address.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), Number(address.slice(colon + 1))];
})();
const agent = new http.Agent({ keepAlive: true, maxSockets: 1, noDelay: true });

function request(method, urlPath, body, headers, retried = false) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: apiHost, port: apiPort, method, path: urlPath, agent, headers }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', (err) => {
      // The server may close an idle keep-alive connection just as we reuse it; the request did not
      // reach it, so one retry on a fresh connection is safe.
      if (!retried && req.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) {
        resolve(request(method, urlPath, body, headers, true));
      } else {
        reject(err);
      }
    });
    req.end(body);
  });
}

// A write to a full stdout/stderr pipe is queued by libuv instead of blocking, so output the function
// wrote could reach the server after the result. Before posting, wait until queued output is written
// (an empty write's callback runs after every earlier write). Nothing to wait for in the common case.
function stdioFlushed() {
  const pending = [process.stdout, process.stderr].filter((stream) => stream.writableLength > 0);
  if (pending.length === 0) return undefined;
  return Promise.all(pending.map((stream) => new Promise((resolve) => stream.write('', resolve))));
}

function post(urlPath, bodyText, extraHeaders) {
  const headers = {
    'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(bodyText, 'utf8'), ...extraHeaders,
  };
  // A string body leaves with the request head in one write(); a Buffer would take Node's slower writev path.
  const flushed = stdioFlushed();
  if (flushed) return flushed.then(() => request('POST', urlPath, bodyText, headers));
  return request('POST', urlPath, bodyText, headers);
}

const invocationPath = (id, what) => `${API_PREFIX}/invocation/${encodeURIComponent(id)}/${what}`;

function postError(urlPath, error) {
  const body = toRapidResponse(error);
  return post(urlPath, JSON.stringify(body), { 'Lambda-Runtime-Function-Error-Type': body.errorType });
}

// A failure to talk to the Runtime API is fatal: the server tears the environment down.
function fatal(err) {
  process.stderr.write(`lambent runtime: Runtime API request failed: ${err?.stack ?? err}\n`);
  process.exit(1);
}

// ------------------------------------------------------------------------------------------------
// Handler loading (§6.3)
// ------------------------------------------------------------------------------------------------

// Nearest package.json decides whether .js is an ES module; the search stops at node_modules.
function packageTypeIsModule(folder) {
  for (;;) {
    if (folder.endsWith('/node_modules')) return false;
    const file = path.join(folder, 'package.json');
    if (fs.existsSync(file)) {
      try {
        return JSON.parse(fs.readFileSync(file, 'utf8'))?.type === 'module';
      } catch (e) {
        console.warn(`${file} cannot be read, it will be ignored for ES module detection purposes.`, e);
        return false;
      }
    }
    const parent = path.dirname(folder);
    if (parent === folder) return false;
    folder = parent;
  }
}

const importFile = async (file) => import(pathToFileURL(file).href);

// AWS's resolution order: extensionless (require), .js (require unless type=module), .js (import, if
// type=module), .mjs (import), .cjs (require), then Node resolution from the task root.
async function loadModule(taskRoot, moduleRoot, moduleName) {
  const base = path.resolve(taskRoot, moduleRoot, moduleName);
  if (fs.existsSync(base)) return require(base);
  const esm = packageTypeIsModule(path.dirname(base));
  if (fs.existsSync(`${base}.js`)) return esm ? importFile(`${base}.js`) : require(`${base}.js`);
  if (fs.existsSync(`${base}.mjs`)) return importFile(`${base}.mjs`);
  if (fs.existsSync(`${base}.cjs`)) return require(`${base}.cjs`);
  return require(require.resolve(moduleName, { paths: [taskRoot, moduleRoot] }));
}

const STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
const HIGH_WATER_MARK = Symbol.for('aws.lambda.runtime.handler.streaming.highWaterMark');

async function loadHandler(taskRoot, fullHandler) {
  if (fullHandler.includes('..')) {
    throw new MalformedHandlerName(`'${fullHandler}' is not a valid handler name. Use absolute paths ` +
      'when specifying root directories in handler names.');
  }
  // "dir/sub/file.export.nested": directory part = module root, basename split at the FIRST dot.
  const baseName = path.basename(fullHandler);
  const moduleRoot = fullHandler.substring(0, fullHandler.indexOf(baseName));
  const match = /^([^.]*)\.(.*)$/.exec(baseName);
  if (!match) throw new MalformedHandlerName('Bad handler');
  const [, moduleName, propertyPath] = match;

  let app;
  try {
    app = await loadModule(taskRoot, moduleRoot, moduleName);
  } catch (e) {
    if (e instanceof SyntaxError) throw new UserCodeSyntaxError(e);
    if (e?.code === 'MODULE_NOT_FOUND') throw new ImportModuleError(e);
    throw e;
  }
  const fn = propertyPath.split('.').reduce((object, key) => object && object[key], app);
  if (!fn) throw new HandlerNotFound(`${fullHandler} is undefined or not exported`);
  if (typeof fn !== 'function') throw new HandlerNotFound(`${fullHandler} is not a function`);
  return fn;
}

// ------------------------------------------------------------------------------------------------
// Response streaming (§5.4): awslambda.streamifyResponse / awslambda.HttpResponseStream
// ------------------------------------------------------------------------------------------------

const HTTP_INTEGRATION_CONTENT_TYPE = 'application/vnd.awslambda.http-integration-response';

class HttpResponseStream {
  // Function URL responses: JSON prelude {statusCode, headers, cookies}, 8 NUL bytes, then the body.
  static from(stream, prelude) {
    stream.setContentType(HTTP_INTEGRATION_CONTENT_TYPE);
    stream.write(JSON.stringify(prelude));
    stream.write(new Uint8Array(8));
    return stream;
  }
}

// AWS provides this global unless AWS_LAMBDA_NODEJS_NO_GLOBAL_AWSLAMBDA is 1/true.
if (!['1', 'true'].includes(process.env.AWS_LAMBDA_NODEJS_NO_GLOBAL_AWSLAMBDA)) {
  globalThis.awslambda = {
    streamifyResponse(handler, options) {
      handler[STREAMING] = 'response';
      if (typeof options?.highWaterMark === 'number') handler[HIGH_WATER_MARK] = options.highWaterMark;
      return handler;
    },
    HttpResponseStream,
  };
}

// A Writable over a chunked POST /response. The request (and its headers) starts on the first
// write, so setContentType() works until then. fail() ends the body with the error trailers.
function createResponseStream(id, highWaterMark) {
  let contentType = 'application/octet-stream';
  let req;
  let trailers;
  let done;
  const finished = new Promise((resolve) => { done = resolve; });
  const open = () => {
    if (req) return req;
    req = http.request({
      host: apiHost, port: apiPort, method: 'POST', path: invocationPath(id, 'response'), agent,
      headers: {
        'Content-Type': contentType,
        'Lambda-Runtime-Function-Response-Mode': 'streaming',
        'Transfer-Encoding': 'chunked',
        Trailer: 'Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body',
      },
    }, (res) => { res.resume(); res.on('end', done); res.on('error', done); });
    req.on('error', done);
    return req;
  };
  const stream = new Writable({
    highWaterMark,
    write(chunk, encoding, callback) { open().write(chunk, encoding, callback); },
    final(callback) {
      if (trailers) open().addTrailers(trailers);
      open().end();
      callback();
    },
  });
  stream.setContentType = (type) => {
    if (req) throw new Error('Cannot set content type, the response has already started.');
    contentType = type;
  };
  stream.fail = (error) => {
    const body = toRapidResponse(error);
    trailers = {
      'Lambda-Runtime-Function-Error-Type': body.errorType,
      'Lambda-Runtime-Function-Error-Body': Buffer.from(JSON.stringify(body)).toString('base64'),
    };
    if (!stream.writableEnded) stream.end();
  };
  return { stream, finished, started: () => Boolean(req) };
}

// ------------------------------------------------------------------------------------------------
// The invoke loop
// ------------------------------------------------------------------------------------------------

// What to do when the event loop drains (Node's 'beforeExit'): post a callback result that waited
// for an empty loop, or the default outcome of a handler that never reported one.
let onEmptyEventLoop = null;
process.on('beforeExit', () => {
  const action = onEmptyEventLoop;
  onEmptyEventLoop = null;
  if (action) action();
});

// Where errors outside the handler's own flow are reported: /init/error during init, the current
// invocation's /error afterwards.
let reportFatal = (error) => postError(`${API_PREFIX}/init/error`, error);

process.on('uncaughtException', (error) => {
  logError('Uncaught Exception', error);
  reportFatal(error).then(() => process.exit(129), () => process.exit(129));
});
process.on('unhandledRejection', (reason, promise) => {
  const error = new UnhandledPromiseRejection(reason, promise);
  logError('Unhandled Promise Rejection', error);
  reportFatal(error).then(() => process.exit(128), () => process.exit(128));
});

function parseJsonHeader(value, name) {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value);
  } catch (err) {
    throw new Error(`Cannot parse ${name} as json: ${err.toString()}`);
  }
}

// Fields of the context object that come from the environment and the /next headers (§6.4).
// The environment's fixed facts, read once: every process.env read is a call into C++.
const ENVIRONMENT = Object.freeze({
  functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
  functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
  memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
  logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
  logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
});

function invocationData(headers, id) {
  const deadline = Number(headers['lambda-runtime-deadline-ms']);
  return {
    ...ENVIRONMENT,
    clientContext: parseJsonHeader(headers['lambda-runtime-client-context'], 'ClientContext'),
    identity: parseJsonHeader(headers['lambda-runtime-cognito-identity'], 'CognitoIdentity'),
    invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
    awsRequestId: id,
    tenantId: headers['lambda-runtime-aws-tenant-id'],
    getRemainingTimeInMillis: () => deadline - Date.now(),
  };
}

function serializeResult(result) {
  return JSON.stringify(result === undefined ? null : result) ?? 'null';
}

class Runtime {
  constructor(handler) {
    this.handler = handler;
    this.isAsync = handler?.constructor?.name === 'AsyncFunction';
    this.streaming = handler[STREAMING];
    if (this.streaming !== undefined && this.streaming !== null && this.streaming !== false &&
        this.streaming !== 'response') {
      throw new MalformedStreamingHandler('Only response streaming is supported.');
    }
    this.streaming = this.streaming === 'response';
    this.highWaterMark = Number.isInteger(handler[HIGH_WATER_MARK]) ? handler[HIGH_WATER_MARK] : undefined;
  }

  next() {
    setImmediate(() => this.nextInvocation().catch(fatal));
  }

  async nextInvocation() {
    const res = await request('GET', `${API_PREFIX}/invocation/next`, undefined, {});
    if (res.status !== 200) {
      throw new Error(`/invocation/next returned ${res.status}: ${res.body.toString('utf8', 0, 200)}`);
    }
    const headers = res.headers;
    const id = headers['lambda-runtime-aws-request-id'];
    globalThis[REQUEST_ID] = id;
    if (headers['lambda-runtime-trace-id']) process.env._X_AMZN_TRACE_ID = headers['lambda-runtime-trace-id'];
    else delete process.env._X_AMZN_TRACE_ID;
    reportFatal = (error) => postError(invocationPath(id, 'error'), error);
    if (this.streaming) this.invokeStreaming(id, headers, res.body.toString('utf8'));
    else this.invoke(id, headers, res.body.toString('utf8'));
  }

  // Buffered invocation with AWS's callback semantics. Only the first of callback / succeed / fail /
  // done counts. Errors are posted at once; a callback result waits for an empty event loop unless
  // context.callbackWaitsForEmptyEventLoop is false; succeed/done/fail and async handlers post at once.
  invoke(id, headers, body) {
    let settled = false; // a result or error was reported through one of the callbacks
    let responded = false; // a result was posted (or the default outcome was taken)
    let waitForEmptyEventLoop = true;

    const sendError = (err) => {
      logError('Invoke Error', err);
      postError(invocationPath(id, 'error'), err).then(() => this.next(), fatal);
    };
    const sendResult = (result) => {
      if (responded) {
        console.error('Invocation has already been reported as done. Cannot call complete more than once per invocation.');
        return;
      }
      responded = true;
      let text;
      try {
        text = serializeResult(result);
      } catch {
        sendError(new Error('Unable to stringify response body'));
        return;
      }
      post(invocationPath(id, 'response'), text).then(() => this.next(), fatal);
    };
    const once = (fn) => (...args) => {
      if (settled) return;
      settled = true;
      fn(...args);
    };
    const done = (err, result) => {
      onEmptyEventLoop = null;
      if (err !== undefined && err !== null) sendError(err);
      else sendResult(result);
    };
    const callback = once((err, result) => {
      onEmptyEventLoop = null;
      if (err !== undefined && err !== null) sendError(err);
      else if (!waitForEmptyEventLoop) sendResult(result);
      else onEmptyEventLoop = () => setImmediate(() => sendResult(result));
    });
    const context = {
      get callbackWaitsForEmptyEventLoop() { return waitForEmptyEventLoop; },
      set callbackWaitsForEmptyEventLoop(value) { waitForEmptyEventLoop = value; },
      succeed: once((result) => done(null, result)),
      fail: once((err) => (err === undefined || err === null ? done('handled') : done(err, null))),
      done: once(done),
    };

    // If the loop drains and nothing was reported: an async handler's promise never settled
    // (Runtime.NodeJsExit); a sync handler that never called back answers null.
    onEmptyEventLoop = () => {
      responded = true;
      if (this.isAsync) {
        const error = new NodeJsExit(NODE_JS_EXIT_MESSAGE);
        logError('Invoke Error', error);
        postError(invocationPath(id, 'error'), error).then(() => this.next(), fatal);
      } else {
        post(invocationPath(id, 'response'), 'null').then(() => this.next(), fatal);
      }
    };

    try {
      Object.assign(context, invocationData(headers, id));
      const result = this.handler(JSON.parse(body), context, callback);
      if (result && typeof result.then === 'function') {
        result.then(context.succeed, context.fail).catch(context.fail);
      }
    } catch (err) {
      callback(err);
    }
  }

  // Streaming invocation: handler(event, responseStream, context) must return a promise and end the
  // stream. Errors before the first byte are posted to /error, later ones as trailers (§5.4).
  invokeStreaming(id, headers, body) {
    const { stream, finished, started } = createResponseStream(id, this.highWaterMark);
    let reported = false;
    const fail = (err) => {
      if (reported) return;
      reported = true;
      onEmptyEventLoop = null;
      logError('Invoke Error', err);
      if (started()) {
        stream.fail(err);
        finished.then(() => this.next());
      } else {
        postError(invocationPath(id, 'error'), err).then(() => this.next(), fatal);
      }
    };
    onEmptyEventLoop = () => fail(new NodeJsExit(NODE_JS_EXIT_MESSAGE));
    (async () => {
      const result = this.handler(JSON.parse(body), stream, invocationData(headers, id));
      if (!result || typeof result.then !== 'function') {
        fail('Streaming does not support non-async handlers.');
        return;
      }
      if ((await result) !== undefined) console.warn('Streaming handlers ignore return values.');
      if (reported) return;
      if (!stream.writableEnded) {
        fail('Response stream is not finished.');
        return;
      }
      reported = true;
      onEmptyEventLoop = null;
      await finished;
      this.next();
    })().catch(fail);
  }
}

async function main() {
  patchConsole();
  const taskRoot = process.env.LAMBDA_TASK_ROOT || process.cwd();
  let handler;
  try {
    handler = await loadHandler(taskRoot, process.env._HANDLER ?? '');
    new Runtime(handler).next();
  } catch (error) {
    // AWS reports a failed init as an uncaught exception: log line, /init/error, exit 129.
    logError('Uncaught Exception', error);
    reportFatal(error).then(() => process.exit(129), () => process.exit(129));
  }
}

main();
