/** Our emulator's command line: the ready line, flags, and a clean stop on SIGINT and SIGTERM. */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PubSub } from '@google-cloud/pubsub';
import { startProcess } from '../../helpers/processes.ts';

process.env.METADATA_SERVER_DETECTION = 'none';

const READY = /^Pub\/Sub emulator listening on (127\.0\.0\.1):(\d+)$/m;

describe('Pub/Sub emulator command line', () => {
  let dir: string;
  before(async () => (dir = await mkdtemp(path.join(os.tmpdir(), 'pubsub-cli-'))));
  after(() => rm(dir, { recursive: true, force: true }));

  it('serves consumer lag over HTTP with --monitoring-port', async () => {
    const child = startProcess(process.execPath, [
      'local/pubsub-emulator/main.ts',
      '--port',
      '0',
      '--monitoring-port',
      '0',
    ]);
    try {
      const [, monitoring] = await child.waitFor(/^Pub\/Sub emulator monitoring on (http:\/\/\S+)$/m);
      const [, host, port] = await child.waitFor(READY);
      const client = new PubSub({ projectId: 'cli', apiEndpoint: `${host}:${port}` });
      const [topic] = await client.createTopic('lag-topic');
      await topic.createSubscription('lag-sub');
      await topic.publishMessage({ data: Buffer.from('waiting') });
      await client.close();
      const ages = (await (await fetch(`${monitoring}/v1/oldest-unacked-ages`)).json()) as Record<
        string,
        number
      >;
      assert.ok(ages['projects/cli/subscriptions/lag-sub']! >= 0, JSON.stringify(ages));
      assert.equal((await fetch(`${monitoring}/elsewhere`)).status, 404);
      child.child.kill('SIGTERM');
      await new Promise((resolve) => child.child.once('exit', resolve));
      assert.equal(child.child.exitCode, 0, child.output());
    } finally {
      await child.kill();
    }
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`prints its address once it serves and stops cleanly on ${signal}`, async () => {
      const jwksFile = path.join(dir, `jwks-${signal}.json`);
      const child = startProcess(process.execPath, [
        'local/pubsub-emulator/main.ts',
        '--host',
        '127.0.0.1',
        '--port',
        '0',
        '--jwks-out',
        jwksFile,
      ]);
      try {
        const [line, host, port] = await child.waitFor(READY);
        assert.equal(line, `Pub/Sub emulator listening on ${host}:${port}`);
        const jwks = JSON.parse(await readFile(jwksFile, 'utf8')) as { keys: { kty: string; alg: string }[] };
        assert.equal(jwks.keys[0]?.kty, 'RSA');
        assert.equal(jwks.keys[0]?.alg, 'RS256');
        const client = new PubSub({ projectId: 'cli', apiEndpoint: `${host}:${port}` });
        const [topic] = await client.createTopic('cli-topic');
        assert.equal(topic.name, 'projects/cli/topics/cli-topic');
        await client.close();
        child.child.kill(signal);
        await new Promise((resolve) => child.child.once('exit', resolve));
        assert.equal(child.child.exitCode, 0, child.output());
      } finally {
        await child.kill();
      }
    });
  }

  it('signs push tokens with a key given by --oidc-key', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const keyFile = path.join(dir, 'key.pem');
    await writeFile(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const jwksFile = path.join(dir, 'jwks-key.json');
    const child = startProcess(process.execPath, [
      'local/pubsub-emulator/main.ts',
      '--port',
      '0',
      '--oidc-key',
      keyFile,
      '--oidc-key-id',
      'local-key-1',
      '--jwks-out',
      jwksFile,
    ]);
    try {
      await child.waitFor(READY);
      const jwks = JSON.parse(await readFile(jwksFile, 'utf8')) as { keys: { kid: string; n: string }[] };
      assert.equal(jwks.keys[0]?.kid, 'local-key-1');
      const expected = privateKey.export({ format: 'jwk' }) as { n: string };
      assert.equal(jwks.keys[0]?.n, expected.n, 'the JWKS holds the public half of the given key');
    } finally {
      await child.stop();
    }
  });

  it('rejects invalid flags', async () => {
    const child = startProcess(process.execPath, ['local/pubsub-emulator/main.ts', '--port', 'eighty']);
    await new Promise((resolve) => child.child.once('exit', resolve));
    assert.notEqual(child.child.exitCode, 0);
    assert.match(child.output(), /--port/);
  });
});
