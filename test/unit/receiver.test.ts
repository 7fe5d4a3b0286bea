import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { startReceiver, verifySignature, type ArrivedRequest, type Receiver } from '../support/receiver.js';

const newSecret = () => `whsec_${randomBytes(24).toString('base64')}`;

/** A webhook POST signed with standardwebhooks' own sign(), by each of the secrets. */
async function post(url: string, body: string, secrets: string[], id = `msg_${randomBytes(6).toString('hex')}`) {
  const now = new Date();
  const signature = secrets.map((s) => new Webhook(s).sign(id, now, body)).join(' ');
  return fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
      'webhook-signature': signature,
    },
    body,
  });
}

describe('test receiver', () => {
  let receiver: Receiver | undefined;
  afterEach(async () => {
    await receiver?.close();
    receiver = undefined;
  });

  it('records a request and verifies its signature', async () => {
    const secret = newSecret();
    receiver = await startReceiver({ secret });
    const body = JSON.stringify({ event: 'invoices.paid', data: { invoiceId: 'INV1' } });
    const response = await post(`${receiver.url}/webhook?x=1`, body, [secret], 'msg_1');
    expect(response.status).toBe(200);
    const [request] = await receiver.waitFor(1, 2_000);
    expect(request).toMatchObject({ n: 1, method: 'POST', path: '/webhook?x=1', body, verified: true, verificationError: null });
    expect(request!.headers['webhook-id']).toBe('msg_1');
    expect(request!.rawBody.equals(Buffer.from(body))).toBe(true);
    expect(request!.receivedAt).toBeInstanceOf(Date);
  });

  it('does not verify with the wrong secret, or without one', async () => {
    receiver = await startReceiver({ secret: newSecret() });
    await post(receiver.url, '{}', [newSecret()]);
    receiver.setSecrets([]);
    await post(receiver.url, '{}', [newSecret()]);
    const requests = await receiver.waitFor(2, 2_000);
    expect(requests.map((r) => r.verified)).toEqual([false, false]);
    expect(requests[0]!.verificationError).toMatch(/No matching signature/);
    expect(requests[1]!.verificationError).toBe('no secret set on the receiver');
  });

  it('does not verify a body changed after signing', async () => {
    const secret = newSecret();
    receiver = await startReceiver({ secret });
    const id = 'msg_tampered';
    const now = new Date();
    await fetch(receiver.url, {
      method: 'POST',
      headers: {
        'webhook-id': id,
        'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
        'webhook-signature': new Webhook(secret).sign(id, now, '{"amount":1}'),
      },
      body: '{"amount":1000}',
    });
    expect((await receiver.waitFor(1, 2_000))[0]!.verified).toBe(false);
  });

  it('takes the secret later, and any of several (rotation), and verifies non-JSON bodies', async () => {
    receiver = await startReceiver();
    const [oldSecret, newOne] = [newSecret(), newSecret()];
    receiver.setSecrets([newOne, oldSecret]);
    await post(receiver.url, '<?xml version="1.0"?><webhook/>', [oldSecret]);
    await post(receiver.url, '{}', [oldSecret, newOne]);
    const requests = await receiver.waitFor(2, 2_000);
    expect(requests.map((r) => r.verified)).toEqual([true, true]);
  });

  it('answers as programmed', async () => {
    receiver = await startReceiver();
    receiver.respondWith((_req, n) =>
      n === 1 ? { status: 503, headers: { 'retry-after': '3' }, body: 'busy' } : { status: 201, body: 'created', delayMs: 100 },
    );
    const first = await post(receiver.url, '{}', [newSecret()]);
    expect(first.status).toBe(503);
    expect(first.headers.get('retry-after')).toBe('3');
    expect(await first.text()).toBe('busy');
    const start = performance.now();
    const second = await post(receiver.url, '{}', [newSecret()]);
    expect(second.status).toBe(201);
    expect(await second.text()).toBe('created');
    expect(performance.now() - start).toBeGreaterThanOrEqual(90);
  });

  it('answers 500 when the responder throws', async () => {
    receiver = await startReceiver();
    receiver.respondWith(() => {
      throw new Error('boom');
    });
    const response = await post(receiver.url, '{}', []);
    expect(response.status).toBe(500);
    expect(await response.text()).toBe('receiver responder failed: boom');
  });

  it('rejects waitFor with a clear message on timeout', async () => {
    receiver = await startReceiver();
    await post(receiver.url, '{}', []);
    await expect(receiver.waitFor(2, 200)).rejects.toThrow('receiver: expected 2 request(s) within 200 ms, got 1');
  });

  it('waits for requests still to come', async () => {
    receiver = await startReceiver();
    const waiting = receiver.waitFor(2, 5_000);
    await post(receiver.url, '{}', []);
    await post(receiver.url, '{}', []);
    expect(await waiting).toHaveLength(2);
  });

  it('reset forgets requests and the programmed answer', async () => {
    receiver = await startReceiver();
    receiver.respondWith(() => ({ status: 500 }));
    await post(receiver.url, '{}', []);
    receiver.reset();
    expect(receiver.requests).toHaveLength(0);
    const response = await post(receiver.url, '{}', []);
    expect(response.status).toBe(200);
    expect(receiver.requests.map((r) => r.n)).toEqual([1]);
  });

  it('hands each request over instead of keeping it, answering 200 whatever is programmed', async () => {
    const handed: ArrivedRequest[] = [];
    receiver = await startReceiver({ onRequest: (request) => handed.push(request) });
    receiver.respondWith(() => ({ status: 500 }));
    const secret = newSecret();
    const body = JSON.stringify({ data: { invoiceId: 'INV2' } });
    const response = await post(`${receiver.url}/h/key1`, body, [secret], 'msg_2');
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('');
    expect(receiver.requests).toHaveLength(0);
    expect(handed).toHaveLength(1);
    expect(handed[0]).toMatchObject({ method: 'POST', path: '/h/key1', body });
    expect(handed[0]!.headers['webhook-id']).toBe('msg_2');
    expect(verifySignature([secret], handed[0]!.rawBody, handed[0]!.headers)).toBeNull();
    expect(verifySignature([newSecret()], handed[0]!.rawBody, handed[0]!.headers)).toMatch(/No matching signature/);
    expect(receiver.port).toBe(Number(new URL(receiver.url).port));
  });

  it('closes while a response is delayed', async () => {
    receiver = await startReceiver();
    receiver.respondWith(() => ({ status: 200, delayMs: 60_000 }));
    const pending = post(receiver.url, '{}', []).catch((err: unknown) => err);
    await receiver.waitFor(1, 2_000);
    const start = performance.now();
    await receiver.close();
    receiver = undefined;
    expect(performance.now() - start).toBeLessThan(2_000);
    expect(await pending).toBeInstanceOf(Error);
  });
});
