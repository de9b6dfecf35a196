import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '#shared/errors.ts';
import {
  computeSignature,
  createWebhookSigner,
  createWebhookVerifier,
  InvalidSignatureError,
  MalformedSignatureHeaderError,
  parseSignatureHeader,
  SIGNATURE_FAILURE,
  signatureHeader,
  StaleTimestampError,
  verifySignature,
  type WebhookSignatureError,
} from '#shared/webhooks/index.ts';

const SECRET = 'whsec_test';
const BODY = '{"id":"evt_1","type":"payment.succeeded"}';
const T = 1_767_225_600; // 2026-01-01T00:00:00Z
const at = (seconds: number) => seconds * 1000;

function refuses(
  options: Partial<Parameters<typeof verifySignature>[0]>,
  errorClass: abstract new (...args: never[]) => WebhookSignatureError,
  message?: RegExp,
) {
  assert.throws(
    () =>
      verifySignature({
        header: signatureHeader(BODY, [SECRET], T),
        rawBody: BODY,
        secrets: [SECRET],
        now: at(T),
        ...options,
      }),
    (error: unknown) => {
      assert.ok(error instanceof errorClass, `expected ${errorClass.name}, got ${String(error)}`);
      assert.equal(error.retryable, false);
      if (message) assert.match(error.message, message);
      return true;
    },
  );
}

describe('webhook signatures: signing', () => {
  it('is HMAC-SHA256 over "<timestamp>.<raw body>" in hex (known answer from openssl)', () => {
    assert.equal(
      computeSignature(SECRET, T, BODY),
      '550644f70ce9e38d93a75d1af5c78b3b69e9eb877bdf63f2979d94bd7b69c688',
    );
    assert.equal(computeSignature(SECRET, T, Buffer.from(BODY)), computeSignature(SECRET, T, BODY));
  });

  it('writes t= and one v1= per secret', () => {
    const header = signatureHeader(BODY, ['old', 'new'], T);
    assert.match(header, /^t=1767225600,v1=[0-9a-f]{64},v1=[0-9a-f]{64}$/);
    assert.deepEqual(parseSignatureHeader(header), {
      timestamp: T,
      signatures: [computeSignature('old', T, BODY), computeSignature('new', T, BODY)],
    });
  });

  it('needs at least one non-empty secret and whole seconds', () => {
    assert.throws(() => signatureHeader(BODY, [], T), ConfigError);
    assert.throws(() => createWebhookVerifier({ secrets: [''] }), ConfigError);
    assert.throws(() => signatureHeader(BODY, [SECRET], 1.5), RangeError);
  });

  it('the signer and the verifier use the injected clock', () => {
    const signer = createWebhookSigner({ secrets: [SECRET], clock: () => at(T) + 999 });
    const header = signer.sign(BODY);
    assert.match(header, /^t=1767225600,/);
    const verifier = createWebhookVerifier({ secrets: [SECRET], clock: () => at(T + 300) });
    assert.deepEqual(verifier.verify(header, BODY), { timestamp: T });
    const later = createWebhookVerifier({ secrets: [SECRET], clock: () => at(T + 301) });
    assert.throws(() => later.verify(header, BODY), StaleTimestampError);
  });
});

describe('webhook signatures: verifying', () => {
  it('accepts the body as signed', () => {
    assert.deepEqual(
      verifySignature({
        header: signatureHeader(BODY, [SECRET], T),
        rawBody: BODY,
        secrets: [SECRET],
        now: at(T),
      }),
      { timestamp: T },
    );
  });

  it('refuses a tampered body, even by one byte or by whitespace', () => {
    refuses({ rawBody: BODY.replace('evt_1', 'evt_2') }, InvalidSignatureError, /no signature matches/);
    refuses({ rawBody: `${BODY} ` }, InvalidSignatureError);
    refuses({ rawBody: JSON.stringify(JSON.parse(BODY), null, 2) }, InvalidSignatureError);
  });

  it('refuses a wrong secret', () => {
    refuses({ secrets: ['whsec_other'] }, InvalidSignatureError);
  });

  it('refuses a signature moved to another timestamp', () => {
    const signature = computeSignature(SECRET, T, BODY);
    refuses({ header: `t=${T + 1},v1=${signature}`, now: at(T + 1) }, InvalidSignatureError);
  });

  it('tolerates 5 minutes either way, no more', () => {
    for (const drift of [-300, -1, 0, 1, 300]) {
      assert.doesNotThrow(() =>
        verifySignature({
          header: signatureHeader(BODY, [SECRET], T),
          rawBody: BODY,
          secrets: [SECRET],
          now: at(T + drift),
        }),
      );
    }
    refuses({ now: at(T + 301) }, StaleTimestampError, /301 s old, beyond the 300 s tolerance/);
    refuses({ now: at(T - 301) }, StaleTimestampError, /301 s in the future/);
    refuses({ now: at(T + 3600), toleranceSeconds: 60 }, StaleTimestampError, /60 s tolerance/);
  });

  it('checks the signature before the time, so "stale" means authentic but old', () => {
    refuses({ now: at(T + 3600), secrets: ['whsec_other'] }, InvalidSignatureError);
  });

  it('during a rotation, accepts a delivery signed with either secret', () => {
    const both = signatureHeader(BODY, ['old', 'new'], T);
    const onlyNew = signatureHeader(BODY, ['new'], T);
    for (const [header, secrets] of [
      [both, ['new']],
      [both, ['old']],
      [onlyNew, ['old', 'new']],
      [both, ['unrelated', 'new']],
    ] as const) {
      assert.deepEqual(verifySignature({ header, rawBody: BODY, secrets, now: at(T) }), { timestamp: T });
    }
    refuses({ header: onlyNew, secrets: ['old'] }, InvalidSignatureError);
  });

  it('ignores signature schemes it does not know, and spaces after commas', () => {
    const v1 = computeSignature(SECRET, T, BODY);
    const header = `t=${T}, v0=${'0'.repeat(64)}, v1=${v1}`;
    assert.deepEqual(verifySignature({ header, rawBody: BODY, secrets: [SECRET], now: at(T) }), {
      timestamp: T,
    });
  });

  const v1 = computeSignature(SECRET, T, BODY);
  const malformed: [string, string | undefined, RegExp][] = [
    ['missing', undefined, /header is missing/],
    ['empty', '', /header is missing/],
    ['no timestamp', `v1=${v1}`, /no timestamp/],
    ['no signature', `t=${T}`, /no v1 signature/],
    ['only another scheme', `t=${T},v0=${v1}`, /no v1 signature/],
    ['timestamp not a number', `t=soon,v1=${v1}`, /unix seconds/],
    ['timestamp in milliseconds with a fraction', `t=${T}.5,v1=${v1}`, /unix seconds/],
    ['two timestamps', `t=${T},t=${T},v1=${v1}`, /more than one timestamp/],
    ['signature not hex', `t=${T},v1=${'z'.repeat(64)}`, /64 lowercase hex/],
    ['signature too short', `t=${T},v1=${v1.slice(2)}`, /64 lowercase hex/],
    ['signature in base64', `t=${T},v1=${Buffer.from(v1, 'hex').toString('base64')}`, /64 lowercase hex/],
    ['not key=value', `t=${T};v1=${v1}`, /unix seconds|key=value/],
    ['a bare word', `t=${T},v1=${v1},garbage`, /key=value/],
    ['too many signatures', `t=${T}${`,v1=${v1}`.repeat(9)}`, /more than 8/],
    ['huge', `t=${T},v1=${v1},x=${'a'.repeat(3000)}`, /longer than/],
  ];
  for (const [name, header, message] of malformed) {
    it(`refuses a malformed header: ${name}`, () => {
      refuses({ header }, MalformedSignatureHeaderError, message);
    });
  }

  it('each refusal carries a code for the problem response', () => {
    assert.equal(new InvalidSignatureError().code, SIGNATURE_FAILURE.mismatch);
    assert.equal(new MalformedSignatureHeaderError('x').code, SIGNATURE_FAILURE.malformed);
    assert.equal(new StaleTimestampError(0, 1000, 300).code, SIGNATURE_FAILURE.stale);
  });
});
