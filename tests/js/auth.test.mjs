// SigV4 and TLS with the AWS SDK for JavaScript v3 against `lambent serve --auth sigv4 --tls-cert/--tls-key`:
// the right key works, a wrong secret is InvalidSignatureException, an unknown key UnrecognizedClientException,
// a clock 20 minutes behind gets "Signature expired".
//
//   node --test tests/js/auth.test.mjs

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

for (const k of Object.keys(process.env)) {
  if (k.startsWith('AWS_')) delete process.env[k];
}
Object.assign(process.env, {
  AWS_CONFIG_FILE: '/dev/null',
  AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
  AWS_EC2_METADATA_DISABLED: 'true',
  AWS_REGION: 'us-east-1',
});

const { LambdaClient, ListFunctionsCommand } = await import('@aws-sdk/client-lambda');
const { NodeHttpHandler } = await import('@smithy/node-http-handler');

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BIN = process.env.LAMBENT_BIN || path.join(HERE, '..', '..', 'build', 'lambent');
const KEY = 'AKIALAMBENTJSTEST001';
const SECRET = 'js/secret+0123456789';

describe('sigv4 + tls with @aws-sdk/client-lambda', () => {
  let root;
  let proc;
  let url;
  let ca;

  before(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'lambent-js-auth-'));
    const gen = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
      '-keyout', path.join(root, 'key.pem'), '-out', path.join(root, 'cert.pem')]);
    assert.equal(gen.status, 0, String(gen.stderr));
    ca = readFileSync(path.join(root, 'cert.pem'));
    writeFileSync(path.join(root, 'credentials'),
      `[default]\naws_access_key_id = ${KEY}\naws_secret_access_key = ${SECRET}\n`);
    proc = spawn(BIN, ['serve', '--listen', '127.0.0.1:0', '--data-dir', path.join(root, 'data'),
      '--auth', 'sigv4', '--credentials', path.join(root, 'credentials'),
      '--tls-cert', path.join(root, 'cert.pem'), '--tls-key', path.join(root, 'key.pem')],
    { stdio: ['ignore', 'pipe', 'pipe'], cwd: root });
    let stderr = '';
    proc.stderr.on('data', (d) => { stderr += d.toString(); });
    url = await new Promise((resolve, reject) => {
      let buf = '';
      const timer = setTimeout(() => reject(new Error(`no listening line; stderr:\n${stderr}`)), 30000);
      proc.stdout.on('data', (d) => {
        buf += d.toString();
        const m = /^listening on (https:\/\/127\.0\.0\.1:\d+)$/m.exec(buf);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      proc.on('exit', (code) => reject(new Error(`lambent exited (${code}); stderr:\n${stderr}`)));
    });
  });

  after(() => {
    if (proc && proc.exitCode === null) proc.kill('SIGTERM');
    if (root) rmSync(root, { recursive: true, force: true });
  });

  const client = (accessKeyId, secretAccessKey, extra = {}) => new LambdaClient({
    endpoint: url,
    region: 'us-east-1',
    credentials: { accessKeyId, secretAccessKey },
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({ httpsAgent: new Agent({ ca }) }),
    ...extra,
  });

  test('the right key works', async () => {
    const out = await client(KEY, SECRET).send(new ListFunctionsCommand({}));
    assert.ok(Array.isArray(out.Functions));
  });

  test('a wrong secret is InvalidSignatureException (403)', async () => {
    await assert.rejects(client(KEY, 'wrong').send(new ListFunctionsCommand({})), (e) => {
      assert.equal(e.name, 'InvalidSignatureException');
      assert.equal(e.$metadata.httpStatusCode, 403);
      assert.match(e.message, /^The request signature we calculated does not match the signature you provided\./);
      return true;
    });
  });

  test('an unknown key is UnrecognizedClientException (403)', async () => {
    await assert.rejects(client('AKIAUNKNOWN000000000', SECRET).send(new ListFunctionsCommand({})), (e) => {
      assert.equal(e.name, 'UnrecognizedClientException');
      assert.equal(e.message, 'The security token included in the request is invalid.');
      return true;
    });
  });

  test('a clock 20 minutes behind gets Signature expired', async () => {
    // The SDK signs with Date.now() shifted by systemClockOffset.
    const skewed = client(KEY, SECRET, { systemClockOffset: -20 * 60 * 1000 });
    await assert.rejects(skewed.send(new ListFunctionsCommand({})), (e) => {
      assert.equal(e.name, 'InvalidSignatureException');
      assert.match(e.message, /^Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 15 min\.\)$/);
      return true;
    });
  });
});
