// Control-plane integration tests for Lambent driven by the AWS SDK for JavaScript v3.
//
//   (cd tests/js && npm ci)   # once
//   node --test tests/js/
//
// Starts the real server (build/lambent, or $LAMBENT_BIN) on 127.0.0.1:0 with a temp data dir.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants as fsConstants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// Keep host AWS configuration out of the SDK's way before it is loaded.
for (const k of Object.keys(process.env)) {
  if (k.startsWith('AWS_')) delete process.env[k];
}
Object.assign(process.env, {
  AWS_CONFIG_FILE: '/dev/null',
  AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
  AWS_EC2_METADATA_DISABLED: 'true',
  AWS_REGION: 'us-east-1',
});

let sdk;
try {
  sdk = await import('@aws-sdk/client-lambda');
} catch (e) {
  throw new Error(`@aws-sdk/client-lambda is not installed: run "npm ci" in tests/js (${e.message})`);
}
const {
  LambdaClient, LambdaServiceException,
  CreateFunctionCommand, GetFunctionCommand, GetFunctionConfigurationCommand,
  UpdateFunctionCodeCommand, UpdateFunctionConfigurationCommand, DeleteFunctionCommand,
  TagResourceCommand, UntagResourceCommand, ListTagsCommand, GetAccountSettingsCommand,
  ListFunctionsCommand, paginateListFunctions, waitUntilFunctionActiveV2, waitUntilFunctionUpdatedV2,
  ResourceNotFoundException, InvalidParameterValueException, ResourceConflictException,
  PreconditionFailedException,
} = sdk;

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.resolve(HERE, '..', '..');
const BIN = process.env.LAMBENT_BIN || path.join(REPO_ROOT, 'build', 'lambent');
const ROLE = 'arn:aws:iam::000000000000:role/lambda-role';
const ARN_PREFIX = 'arn:aws:lambda:us-east-1:000000000000:function:';
const LAST_MODIFIED_RE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$/;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const RESERVED_MSG = 'Lambda was unable to configure your environment variables because the ' +
  'environment variables you have provided contains reserved keys that are currently not ' +
  'supported for modification. Reserved keys used in this request: AWS_REGION';
const PRECONDITION_MSG = 'The Revision Id provided does not match the latest Revision Id. Call the ' +
  'GetFunction/GetAlias API to retrieve the latest Revision Id';

// ------------------------------------------------------------------------------ zip (stored)

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** In-memory ZIP (method 0 = stored) from {name: string|Buffer}. */
function makeZip(files) {
  const locals = [];
  const centrals = [];
  let offset = 0;
  for (const [name, content] of Object.entries(files)) {
    const nameBuf = Buffer.from(name, 'utf8');
    const data = Buffer.isBuffer(content) ? content : Buffer.from(content, 'utf8');
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(0, 8);
    local.writeUInt16LE(0, 10);
    local.writeUInt16LE(0x5821, 12); // 2024-01-01
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBuf.length, 26);
    local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(0x0314, 4); // made by unix, 2.0
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(0, 10);
    central.writeUInt16LE(0, 12);
    central.writeUInt16LE(0x5821, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBuf.length, 28);
    central.writeUInt32LE(((0o100644 << 16) >>> 0), 38);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBuf, data);
    centrals.push(central, nameBuf);
    offset += local.length + nameBuf.length + data.length;
  }
  const cd = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  const count = Object.keys(files).length;
  eocd.writeUInt16LE(count, 8);
  eocd.writeUInt16LE(count, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, eocd]);
}

const pyZip = (marker) => makeZip({
  'app.py': `MARKER = ${JSON.stringify(marker)}\n\ndef handler(event, context):\n    return MARKER\n`,
});
const sha256b64 = (buf) => createHash('sha256').update(buf).digest('base64');

// ------------------------------------------------------------------------------ server

class Server {
  constructor() {
    this.root = mkdtempSync(path.join(tmpdir(), 'lambent-js-'));
    this.dataDir = path.join(this.root, 'data');
    this.stderr = '';
    this.stdout = '';
  }

  async start(timeoutMs = 30000) {
    try {
      accessSync(BIN, fsConstants.X_OK);
    } catch {
      throw new Error(`lambent binary not found or not executable at ${BIN} ` +
        '(build it first, or set LAMBENT_BIN)');
    }
    this.proc = spawn(BIN, ['serve', '--listen', '127.0.0.1:0', '--data-dir', this.dataDir, '--concurrency', '1000'], {
      stdio: ['ignore', 'pipe', 'pipe'], cwd: this.root,
    });
    this.proc.stderr.on('data', (d) => { this.stderr += d.toString(); });
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, sig) => resolve({ code, sig })));
    this.url = await new Promise((resolve, reject) => {
      let buf = '';
      const timer = setTimeout(() => reject(new Error(
        `no "listening on" line within ${timeoutMs} ms; stdout:\n${this.stdout}\nstderr:\n${this.stderr}`)),
        timeoutMs);
      // Log lines may come first; the first `listening on` line is the one that counts.
      this.proc.stdout.on('data', (d) => {
        this.stdout += d.toString();
        if (this.url) return;
        buf += d.toString();
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).replace(/\r$/, '');
          buf = buf.slice(nl + 1);
          const m = /^listening on (http:\/\/127\.0\.0\.1:(\d+))$/.exec(line);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]);
            return;
          }
        }
      });
      this.proc.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`lambent exited (${code}) before listening; stderr:\n${this.stderr}`));
      });
    });
    return this;
  }

  async stop(timeoutMs = 20000) {
    if (!this.proc || this.proc.exitCode !== null) return null;
    this.proc.kill('SIGTERM');
    let handle;
    const timer = new Promise((resolve) => { handle = setTimeout(() => resolve(null), timeoutMs); });
    const res = await Promise.race([this.exited, timer]);
    clearTimeout(handle);
    if (res === null) {
      this.proc.kill('SIGKILL');
      await this.exited;
      throw new Error(`lambent did not exit within ${timeoutMs} ms of SIGTERM`);
    }
    return res;
  }

  cleanup() {
    rmSync(this.root, { recursive: true, force: true });
  }
}

function makeClient(url) {
  return new LambdaClient({
    endpoint: url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
}

let counter = 0;
const uniqueName = (prefix) => `${prefix}-${++counter}-${Math.random().toString(16).slice(2, 10)}`;

async function createFn(client, name, zip, extra = {}) {
  return client.send(new CreateFunctionCommand({
    FunctionName: name, Runtime: 'python3.12', Role: ROLE, Handler: 'app.handler',
    Code: { ZipFile: zip ?? pyZip(name) }, ...extra,
  }));
}

async function expectError(promise, check) {
  let err;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  assert.ok(err, 'expected the call to fail');
  assert.ok(err instanceof LambdaServiceException, `not a service exception: ${err}`);
  assert.match(err.$metadata.requestId ?? '', UUID_RE, 'x-amzn-RequestId missing');
  check(err);
  return err;
}

const waitCfg = (client) => ({ client, maxWaitTime: 30, minDelay: 1, maxDelay: 1 });

// ------------------------------------------------------------------------------ tests

describe('lambent control plane via @aws-sdk/client-lambda', () => {
  const server = new Server();
  let client;

  before(async () => {
    await server.start();
    client = makeClient(server.url);
  });

  after(async () => {
    try {
      const res = await server.stop();
      if (res) assert.equal(res.code, 0, `lambent exited with ${JSON.stringify(res)} after SIGTERM`);
    } finally {
      server.cleanup();
    }
  });

  test('CreateFunction returns a complete FunctionConfiguration', async () => {
    const name = uniqueName('js-create');
    const zip = pyZip('create');
    const res = await createFn(client, name, zip, { Environment: { Variables: { AA: '1' } } });
    assert.equal(res.$metadata.httpStatusCode, 201);
    assert.match(res.$metadata.requestId, UUID_RE);
    assert.equal(res.FunctionName, name);
    assert.equal(res.FunctionArn, ARN_PREFIX + name);
    assert.equal(res.Runtime, 'python3.12');
    assert.equal(res.Role, ROLE);
    assert.equal(res.Handler, 'app.handler');
    assert.equal(res.CodeSize, zip.length);
    assert.equal(res.CodeSha256, sha256b64(zip));
    assert.equal(res.Description, '');
    assert.equal(res.Timeout, 3);
    assert.equal(res.MemorySize, 128);
    assert.match(res.LastModified, LAST_MODIFIED_RE);
    assert.equal(res.Version, '$LATEST');
    assert.match(res.RevisionId, UUID_RE);
    assert.ok(['Pending', 'Active'].includes(res.State), res.State);
    assert.equal(res.PackageType, 'Zip');
    assert.deepEqual(res.Architectures, ['x86_64']);
    assert.deepEqual(res.EphemeralStorage, { Size: 512 });
    assert.deepEqual(res.TracingConfig, { Mode: 'PassThrough' });
    assert.deepEqual(res.SnapStart, { ApplyOn: 'None', OptimizationStatus: 'Off' });
    assert.deepEqual(res.LoggingConfig, { LogFormat: 'Text', LogGroup: `/aws/lambda/${name}` });
    assert.deepEqual(res.Environment, { Variables: { AA: '1' } });
  });

  test('GetFunction / GetFunctionConfiguration and the code download', async () => {
    const name = uniqueName('js-get');
    const zip = pyZip('get');
    await createFn(client, name, zip);
    const waited = await waitUntilFunctionActiveV2(waitCfg(client), { FunctionName: name });
    assert.equal(waited.state, 'SUCCESS');
    const res = await client.send(new GetFunctionCommand({ FunctionName: name }));
    assert.equal(res.$metadata.httpStatusCode, 200);
    assert.equal(res.Configuration.State, 'Active');
    assert.equal(res.Configuration.LastUpdateStatus, 'Successful');
    assert.equal(res.Configuration.CodeSha256, sha256b64(zip));
    assert.equal(res.Tags, undefined, 'no Tags for an untagged function');
    assert.equal(res.Code.RepositoryType, 'S3');
    const dl = await fetch(res.Code.Location);
    assert.equal(dl.status, 200);
    assert.deepEqual(Buffer.from(await dl.arrayBuffer()), zip);
    const { $metadata, ...conf } = await client.send(
      new GetFunctionConfigurationCommand({ FunctionName: ARN_PREFIX + name }));
    assert.equal($metadata.httpStatusCode, 200);
    assert.deepEqual(conf, res.Configuration);
    const partial = await client.send(new GetFunctionConfigurationCommand({
      FunctionName: `000000000000:function:${name}` }));
    assert.equal(partial.FunctionName, name);
    const latest = await client.send(new GetFunctionCommand({ FunctionName: `${name}:$LATEST` }));
    assert.equal(latest.Configuration.FunctionName, name);
  });

  test('ListFunctions with paginateListFunctions', async () => {
    const prefix = uniqueName('js-list');
    const names = [];
    for (let i = 0; i < 12; i++) names.push(`${prefix}-${String((i * 7) % 12).padStart(2, '0')}`);
    for (const n of names) await createFn(client, n, pyZip(n));
    const seen = [];
    let pages = 0;
    for await (const page of paginateListFunctions({ client, pageSize: 5 }, {})) {
      pages++;
      assert.ok(page.Functions.length <= 5, `page of ${page.Functions.length} > MaxItems 5`);
      for (const f of page.Functions) {
        seen.push(f.FunctionName);
        assert.equal(f.State, undefined, 'list items omit State');
      }
    }
    assert.ok(pages >= 3, `only ${pages} pages for ${seen.length} functions`);
    assert.equal(new Set(seen).size, seen.length, 'duplicates across pages');
    const mine = seen.filter((n) => n.startsWith(`${prefix}-`));
    assert.deepEqual([...mine].sort(), [...names].sort());
    assert.deepEqual(seen, [...seen].sort(), 'listing is sorted by name');
    const one = await client.send(new ListFunctionsCommand({ MaxItems: 1 }));
    assert.equal(one.Functions.length, 1);
    assert.ok(one.NextMarker, 'NextMarker when more functions remain');
  });

  test('UpdateFunctionCode and UpdateFunctionConfiguration', async () => {
    const name = uniqueName('js-update');
    const created = await createFn(client, name, pyZip('u1'));
    await waitUntilFunctionActiveV2(waitCfg(client), { FunctionName: name });
    const zip2 = pyZip('u2-different');
    const code = await client.send(new UpdateFunctionCodeCommand({ FunctionName: name, ZipFile: zip2 }));
    assert.equal(code.$metadata.httpStatusCode, 200);
    assert.equal(code.CodeSha256, sha256b64(zip2));
    assert.notEqual(code.CodeSha256, created.CodeSha256);
    assert.notEqual(code.RevisionId, created.RevisionId);
    assert.equal(code.LastUpdateStatus, 'InProgress');
    const w = await waitUntilFunctionUpdatedV2(waitCfg(client), { FunctionName: name });
    assert.equal(w.state, 'SUCCESS');

    const cfg = await client.send(new UpdateFunctionConfigurationCommand({
      FunctionName: name, Handler: 'app.other', Runtime: 'nodejs22.x', MemorySize: 1024, Timeout: 42,
      Description: 'js', Environment: { Variables: { XX: 'y' } }, EphemeralStorage: { Size: 4096 },
      LoggingConfig: { LogFormat: 'JSON', ApplicationLogLevel: 'WARN', SystemLogLevel: 'INFO' },
    }));
    assert.equal(cfg.LastUpdateStatus, 'InProgress');
    await waitUntilFunctionUpdatedV2(waitCfg(client), { FunctionName: name });
    const got = await client.send(new GetFunctionConfigurationCommand({ FunctionName: name }));
    assert.equal(got.Handler, 'app.other');
    assert.equal(got.Runtime, 'nodejs22.x');
    assert.equal(got.MemorySize, 1024);
    assert.equal(got.Timeout, 42);
    assert.equal(got.Description, 'js');
    assert.deepEqual(got.Environment, { Variables: { XX: 'y' } });
    assert.deepEqual(got.EphemeralStorage, { Size: 4096 });
    assert.deepEqual(got.LoggingConfig, {
      LogFormat: 'JSON', ApplicationLogLevel: 'WARN', SystemLogLevel: 'INFO',
      LogGroup: `/aws/lambda/${name}`,
    });
    assert.equal(got.CodeSha256, sha256b64(zip2));
    assert.equal(got.LastUpdateStatus, 'Successful');
  });

  test('TagResource / ListTags / UntagResource', async () => {
    const name = uniqueName('js-tags');
    const arn = ARN_PREFIX + name;
    await createFn(client, name, undefined, { Tags: { a: '1' } });
    const tag = await client.send(new TagResourceCommand({ Resource: arn, Tags: { b: '2', c: '3' } }));
    assert.equal(tag.$metadata.httpStatusCode, 204);
    assert.deepEqual((await client.send(new ListTagsCommand({ Resource: arn }))).Tags,
      { a: '1', b: '2', c: '3' });
    assert.deepEqual((await client.send(new GetFunctionCommand({ FunctionName: name }))).Tags,
      { a: '1', b: '2', c: '3' });
    const untag = await client.send(new UntagResourceCommand({ Resource: arn, TagKeys: ['a', 'c'] }));
    assert.equal(untag.$metadata.httpStatusCode, 204);
    assert.deepEqual((await client.send(new ListTagsCommand({ Resource: arn }))).Tags, { b: '2' });
  });

  test('DeleteFunction, then ResourceNotFoundException', async () => {
    const name = uniqueName('js-delete');
    await createFn(client, name);
    const del = await client.send(new DeleteFunctionCommand({ FunctionName: name }));
    assert.equal(del.$metadata.httpStatusCode, 204);
    await expectError(client.send(new GetFunctionCommand({ FunctionName: name })), (e) => {
      assert.ok(e instanceof ResourceNotFoundException, `${e.name} is not ResourceNotFoundException`);
      assert.equal(e.name, 'ResourceNotFoundException');
      assert.equal(e.$metadata.httpStatusCode, 404);
      assert.equal(e.message, `Function not found: ${ARN_PREFIX}${name}`);
      assert.equal(e.$fault, 'client');
    });
  });

  test('GetAccountSettings follows creates and deletes', async () => {
    const before = await client.send(new GetAccountSettingsCommand({}));
    assert.equal(before.$metadata.httpStatusCode, 200);
    assert.deepEqual(before.AccountLimit, {
      TotalCodeSize: 80530636800, CodeSizeUnzipped: 262144000, CodeSizeZipped: 52428800,
      ConcurrentExecutions: 1000, UnreservedConcurrentExecutions: 1000,
    });
    const name = uniqueName('js-acct');
    const zip = pyZip('acct');
    await createFn(client, name, zip);
    const mid = await client.send(new GetAccountSettingsCommand({}));
    assert.equal(mid.AccountUsage.FunctionCount, before.AccountUsage.FunctionCount + 1);
    assert.equal(mid.AccountUsage.TotalCodeSize, before.AccountUsage.TotalCodeSize + zip.length);
    await client.send(new DeleteFunctionCommand({ FunctionName: name }));
    const end = await client.send(new GetAccountSettingsCommand({}));
    assert.deepEqual(end.AccountUsage, before.AccountUsage);
  });

  test('ValidationException decodes by name with status 400', async () => {
    const name = 'v'.repeat(65);
    await expectError(createFn(client, name), (e) => {
      assert.equal(e.name, 'ValidationException');
      assert.equal(e.$metadata.httpStatusCode, 400);
      assert.equal(e.message, `1 validation error detected: Value '${name}' at 'functionName' ` +
        'failed to satisfy constraint: Member must have length less than or equal to 64');
    });
    await expectError(createFn(client, uniqueName('js-mem'), undefined, { MemorySize: 64 }), (e) => {
      assert.equal(e.name, 'ValidationException');
      assert.equal(e.$metadata.httpStatusCode, 400);
      assert.equal(e.message, "1 validation error detected: Value '64' at 'memorySize' failed to " +
        'satisfy constraint: Member must have value greater than or equal to 128');
    });
  });

  test('InvalidParameterValueException decodes to its class', async () => {
    await expectError(createFn(client, uniqueName('js-env'), undefined,
      { Environment: { Variables: { AWS_REGION: 'x' } } }), (e) => {
      assert.ok(e instanceof InvalidParameterValueException, e.name);
      assert.equal(e.name, 'InvalidParameterValueException');
      assert.equal(e.$metadata.httpStatusCode, 400);
      assert.equal(e.message, RESERVED_MSG);
    });
    await expectError(createFn(client, uniqueName('js-rt'), undefined, { Runtime: 'python4.0' }),
      (e) => {
        assert.ok(e instanceof InvalidParameterValueException, e.name);
        assert.match(e.message, /^Value python4\.0 at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: \[.*python3\.12.*\] or be a valid ARN$/);
      });
    await expectError(createFn(client, uniqueName('js-zip'), Buffer.from('not a zip')), (e) => {
      assert.ok(e instanceof InvalidParameterValueException, e.name);
      assert.equal(e.message,
        'Could not unzip uploaded file. Please check your file, then try to upload again.');
    });
  });

  test('ResourceConflictException on duplicate create', async () => {
    const name = uniqueName('js-dup');
    await createFn(client, name);
    await expectError(createFn(client, name), (e) => {
      assert.ok(e instanceof ResourceConflictException, e.name);
      assert.equal(e.name, 'ResourceConflictException');
      assert.equal(e.$metadata.httpStatusCode, 409);
      assert.equal(e.message, `Function already exist: ${name}`);
    });
  });

  test('PreconditionFailedException on a stale RevisionId', async () => {
    const name = uniqueName('js-rev');
    await createFn(client, name);
    await waitUntilFunctionActiveV2(waitCfg(client), { FunctionName: name });
    await expectError(client.send(new UpdateFunctionConfigurationCommand({
      FunctionName: name, Description: 'x', RevisionId: '00000000-0000-4000-8000-000000000000',
    })), (e) => {
      assert.ok(e instanceof PreconditionFailedException, e.name);
      assert.equal(e.name, 'PreconditionFailedException');
      assert.equal(e.$metadata.httpStatusCode, 412);
      assert.equal(e.message, PRECONDITION_MSG);
    });
    await expectError(client.send(new UpdateFunctionCodeCommand({
      FunctionName: name, ZipFile: pyZip('other'), RevisionId: '00000000-0000-4000-8000-000000000000',
    })), (e) => {
      assert.ok(e instanceof PreconditionFailedException, e.name);
      assert.equal(e.$metadata.httpStatusCode, 412);
    });
  });

  test('ResourceNotFoundException on every function operation', async () => {
    const name = uniqueName('js-ghost');
    const msg = `Function not found: ${ARN_PREFIX}${name}`;
    const calls = [
      new GetFunctionCommand({ FunctionName: name }),
      new GetFunctionConfigurationCommand({ FunctionName: name }),
      new UpdateFunctionCodeCommand({ FunctionName: name, ZipFile: pyZip('g') }),
      new UpdateFunctionConfigurationCommand({ FunctionName: name, Timeout: 5 }),
      new DeleteFunctionCommand({ FunctionName: name }),
    ];
    for (const cmd of calls) {
      await expectError(client.send(cmd), (e) => {
        assert.ok(e instanceof ResourceNotFoundException, `${cmd.constructor.name}: ${e.name}`);
        assert.equal(e.$metadata.httpStatusCode, 404);
        assert.equal(e.message, msg);
      });
    }
    await expectError(client.send(new ListTagsCommand({ Resource: ARN_PREFIX + name })), (e) => {
      assert.ok(e instanceof ResourceNotFoundException, e.name);
      assert.equal(e.$metadata.httpStatusCode, 404);
    });
  });
});
