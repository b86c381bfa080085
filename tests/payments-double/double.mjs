// A stand-in for Stripe's and Razorpay's REST APIs on loopback, for the payment adapters' tests
// and the cloud's checkout tests. State lives in memory; nothing leaves the machine except the
// webhooks it posts to the URLs a test configures.
//
//   node double.mjs [PORT]        (PORT, or $PATTY_DOUBLE_PORT, or 0 for a free port)
//
// The first line on stdout is `listening <port>`. Stripe is served under /stripe (an adapter's
// api_base is http://127.0.0.1:PORT/stripe), Razorpay under /razorpay, the control API under
// /_double. Stripe answers with objects shaped after Stripe's published fixtures
// ($PATTY_STRIPE_FIXTURES, else ../../../shared/payments/stripe-fixtures3.json from here), with
// ids, amounts and statuses overwritten; Razorpay with its documented entities. Stripe webhooks
// are signed by Stripe's own library; Razorpay's with HMAC-SHA256 of the raw body.
//
// Keys the double accepts: $PATTY_DOUBLE_STRIPE_KEY, $PATTY_DOUBLE_RAZORPAY_KEY_ID and
// $PATTY_DOUBLE_RAZORPAY_KEY_SECRET (defaults below), or set by POST /_double/config.
// With $PATTY_DOUBLE_STDIN_LIFELINE=1 the double exits when its stdin closes (its parent died).

import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Stripe from 'stripe';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixturesPath =
  process.env.PATTY_STRIPE_FIXTURES || path.join(here, '..', '..', '..', 'shared', 'payments', 'stripe-fixtures3.json');
// Where Stripe's published fixtures are not beside the checkout (a clone elsewhere), the double
// starts from bare objects of each kind, every field it answers with being set below anyway, and
// says so on stderr; PATTY_STRIPE_FIXTURES_REQUIRED=1 makes the fixtures a must.
const bare = {
  payment_intent: { object: 'payment_intent' },
  charge: { object: 'charge' },
  refund: { object: 'refund' },
  customer: { object: 'customer' },
  payment_method: { object: 'payment_method', type: 'card', card: {} },
  event: { object: 'event' },
};
let F;
try {
  F = JSON.parse(fs.readFileSync(fixturesPath, 'utf8')).resources;
} catch (e) {
  if (process.env.PATTY_STRIPE_FIXTURES_REQUIRED === '1') {
    console.error(`payments double: cannot read Stripe's fixtures at ${fixturesPath} (set PATTY_STRIPE_FIXTURES): ${e.message}`);
    process.exit(2);
  }
  console.error(`payments double: Stripe's fixtures are not at ${fixturesPath} (set PATTY_STRIPE_FIXTURES); answering from bare objects`);
  F = bare;
}
for (const r of ['payment_intent', 'charge', 'refund', 'customer', 'payment_method', 'event']) {
  if (!F[r]) {
    console.error(`payments double: the fixtures at ${fixturesPath} have no ${r}`);
    process.exit(2);
  }
}

const keys = {
  stripe_secret_key: process.env.PATTY_DOUBLE_STRIPE_KEY || 'sk_test_patty_double',
  razorpay_key_id: process.env.PATTY_DOUBLE_RAZORPAY_KEY_ID || 'rzp_test_pattydouble',
  razorpay_key_secret: process.env.PATTY_DOUBLE_RAZORPAY_KEY_SECRET || 'rzp_secret_patty_double',
};
const config = {
  stripe_webhook_url: null,
  stripe_webhook_secret: null,
  razorpay_webhook_url: null,
  razorpay_webhook_secret: null,
};
const defaultFaults = () => ({
  timeout_next_create: false,
  hang_ms: 30000,
  duplicate_webhooks: false,
  webhook_before_response: false,
  fail_next: 0,
  delay_webhooks_ms: 0,
});
let faults = defaultFaults();

const S = { intents: new Map(), charges: new Map(), refunds: new Map(), customers: new Map(), pms: new Map(), declining: new Set() };
const R = { orders: new Map(), orderMeta: new Map(), payments: new Map(), refunds: new Map(), customers: new Map(), tokens: new Map() };
const idem = new Map();
const calls = [];
const events = [];

const clone = (v) => structuredClone(v);
const now = () => Math.floor(Date.now() / 1000);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const rand = (n) => Array.from(crypto.randomBytes(n), (b) => ALNUM[b % ALNUM.length]).join('');
const sid = (prefix) => `${prefix}_${rand(24)}`;
const rid = (prefix) => `${prefix}_${rand(14)}`;
const hmacHex = (secret, body) => crypto.createHmac('sha256', secret).update(body).digest('hex');

class ApiError extends Error {
  constructor(status, body) {
    super(JSON.stringify(body));
    this.status = status;
    this.body = body;
  }
}
const stripeError = (status, code, message, extra = {}) =>
  new ApiError(status, { error: { type: status === 402 ? 'card_error' : 'invalid_request_error', code, message, ...extra } });
const rzpError = (message, field = null, status = 400) =>
  new ApiError(status, {
    error: { code: 'BAD_REQUEST_ERROR', description: message, source: 'business', step: 'payment_initiation', reason: 'input_validation_failed', metadata: {}, field },
  });

// ---------------------------------------------------------------- form bodies (Stripe)

/** Parses `a=1&m[k]=v&e[]=x` into `{a: '1', m: {k: 'v'}, e: ['x']}`. */
function parseForm(text) {
  const out = {};
  for (const [key, value] of new URLSearchParams(text)) {
    const m = /^([^[\]]+)((?:\[[^\]]*\])*)$/.exec(key);
    if (!m) continue;
    const segs = [m[1], ...[...m[2].matchAll(/\[([^\]]*)\]/g)].map((x) => x[1])];
    let node = out;
    for (let i = 0; i < segs.length; i++) {
      const seg = segs[i];
      if (i === segs.length - 1) {
        if (Array.isArray(node)) node.push(value);
        else node[seg] = value;
        break;
      }
      let child = Array.isArray(node) ? undefined : node[seg];
      if (child === undefined) {
        child = segs[i + 1] === '' ? [] : {};
        if (Array.isArray(node)) node.push(child);
        else node[seg] = child;
      }
      node = child;
    }
  }
  return out;
}

function int(v, name, { min = 0 } = {}) {
  const n = typeof v === 'number' ? v : /^-?\d+$/.test(String(v ?? '')) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < min) throw stripeError(400, 'parameter_invalid_integer', `Invalid integer: ${v}`, { param: name });
  return n;
}

// ---------------------------------------------------------------- webhooks

// One queue per payment: a payment's webhooks go out in the order they happened, while different
// payments' webhooks do not wait for each other (as at a real provider, which sends concurrently).
const chains = new Map();

/** Queues `ev` for delivery after its payment's earlier ones; resolves once the cloud answered (or
 * delivery failed). */
function enqueue(ev) {
  const key = ev.reference ?? '';
  const p = (chains.get(key) ?? Promise.resolve()).then(async () => {
    if (faults.delay_webhooks_ms > 0) await sleep(faults.delay_webhooks_ms);
    await deliver(ev);
    if (faults.duplicate_webhooks) await deliver(ev);
  });
  const tail = p.catch(() => {});
  chains.set(key, tail);
  tail.then(() => {
    if (chains.get(key) === tail) chains.delete(key);
  });
  return p;
}

function signedHeaders(ev, timestamp) {
  if (ev.provider === 'stripe') {
    const secret = config.stripe_webhook_secret;
    if (!secret) return null;
    const opts = { payload: ev.payload, secret };
    if (timestamp !== undefined) opts.timestamp = timestamp;
    return { 'content-type': 'application/json; charset=utf-8', 'stripe-signature': Stripe.webhooks.generateTestHeaderString(opts) };
  }
  const secret = config.razorpay_webhook_secret;
  if (!secret) return null;
  return {
    'content-type': 'application/json',
    'x-razorpay-signature': hmacHex(secret, ev.payload),
    'x-razorpay-event-id': ev.id,
  };
}

async function deliver(ev) {
  const url = ev.provider === 'stripe' ? config.stripe_webhook_url : config.razorpay_webhook_url;
  const headers = signedHeaders(ev);
  const attempt = { at: new Date().toISOString(), status: null, error: null };
  ev.deliveries.push(attempt);
  if (!url || !headers) {
    attempt.error = 'no webhook url or secret configured';
    return attempt;
  }
  ev.url = url;
  ev.headers = headers;
  try {
    const res = await fetch(url, { method: 'POST', headers, body: ev.payload, signal: AbortSignal.timeout(15000) });
    await res.arrayBuffer();
    attempt.status = res.status;
  } catch (e) {
    attempt.error = String(e?.cause?.code || e?.message || e);
  }
  ev.status = attempt.status;
  return attempt;
}

function record(provider, type, reference, body) {
  const ev = {
    id: body.id,
    provider,
    type,
    reference,
    payload: JSON.stringify(body),
    headers: null,
    url: null,
    status: null,
    deliveries: [],
    created_at: new Date().toISOString(),
  };
  events.push(ev);
  return ev;
}

function stripeEvent(type, object, request) {
  const ev = clone(F.event);
  Object.assign(ev, {
    id: sid('evt'),
    api_version: Stripe.API_VERSION,
    created: now(),
    data: { object: clone(object) },
    livemode: false,
    pending_webhooks: 1,
    request: { id: request?.id ?? null, idempotency_key: request?.key ?? null },
    type,
  });
  const reference = object.object === 'payment_intent' ? object.id : object.payment_intent ?? null;
  return record('stripe', type, reference, ev);
}

function razorpayEvent(type, entities) {
  const id = rand(14);
  const payload = {};
  for (const [name, entity] of Object.entries(entities)) payload[name] = { entity: clone(entity) };
  const body = { entity: 'event', account_id: 'acc_PattyDouble01', event: type, contains: Object.keys(entities), payload, created_at: now() };
  const ev = record('razorpay', type, entities.payment?.order_id ?? entities.order?.id ?? null, { id, ...body });
  // The event id travels in the X-Razorpay-Event-Id header, not in the body.
  ev.payload = JSON.stringify(body);
  return ev;
}

// ---------------------------------------------------------------- Stripe

function stripeCard(pmId) {
  const pm = S.pms.get(pmId);
  return pm?.card ?? { brand: 'visa', last4: '4242', exp_month: 12, exp_year: 2030 };
}

function newCharge(pi, pmId, ok) {
  const card = stripeCard(pmId);
  const ch = clone(F.charge);
  const id = sid('ch');
  Object.assign(ch, {
    id,
    amount: pi.amount,
    amount_captured: 0,
    amount_refunded: 0,
    balance_transaction: null,
    billing_details: { address: { city: null, country: null, line1: null, line2: null, postal_code: null, state: null }, email: null, name: null, phone: null, tax_id: null },
    captured: false,
    created: now(),
    currency: pi.currency,
    customer: pi.customer,
    description: pi.description,
    failure_code: ok ? null : 'card_declined',
    failure_message: ok ? null : 'Your card was declined.',
    metadata: clone(pi.metadata),
    outcome: {
      advice_code: null,
      network_advice_code: null,
      network_decline_code: null,
      network_status: ok ? 'approved_by_network' : 'declined_by_network',
      reason: ok ? null : 'generic_decline',
      risk_level: 'normal',
      seller_message: ok ? 'Payment complete.' : 'The bank did not return any further details with this decline.',
      type: ok ? 'authorized' : 'issuer_declined',
    },
    paid: ok,
    payment_intent: pi.id,
    payment_method: pmId,
    receipt_url: null,
    refunded: false,
    refunds: { object: 'list', data: [], has_more: false, total_count: 0, url: `/v1/charges/${id}/refunds` },
    status: ok ? 'succeeded' : 'failed',
  });
  if (ch.payment_method_details?.card) {
    Object.assign(ch.payment_method_details.card, {
      amount_authorized: ok ? pi.amount : null,
      brand: card.brand,
      last4: card.last4,
      exp_month: card.exp_month,
      exp_year: card.exp_year,
      network: card.brand,
    });
  }
  S.charges.set(id, ch);
  return ch;
}

/** The customer (or a saved card off-session) confirms `pi` with `pmId`; returns the webhooks. */
function stripeConfirm(pi, pmId, outcome, request) {
  if (!['requires_payment_method', 'requires_confirmation', 'requires_action'].includes(pi.status)) {
    throw stripeError(400, 'payment_intent_unexpected_state', `This PaymentIntent's status is ${pi.status}, so it cannot be confirmed.`);
  }
  const ok = outcome === 'authorise' && !S.declining.has(pmId);
  const ch = newCharge(pi, pmId, ok);
  pi.latest_charge = ch.id;
  const evs = [];
  if (!ok) {
    pi.status = 'requires_payment_method';
    pi.payment_method = null;
    pi.last_payment_error = {
      charge: ch.id,
      code: 'card_declined',
      decline_code: 'generic_decline',
      doc_url: 'https://docs.stripe.com/error-codes/card-declined',
      message: 'Your card was declined.',
      payment_method: clone(S.pms.get(pmId) ?? null),
      type: 'card_error',
    };
    evs.push(stripeEvent('charge.failed', ch, request), stripeEvent('payment_intent.payment_failed', pi, request));
    return { ok, evs, ch };
  }
  pi.payment_method = pmId;
  pi.last_payment_error = null;
  if (pi.capture_method === 'manual') {
    pi.status = 'requires_capture';
    pi.amount_capturable = pi.amount;
    evs.push(stripeEvent('charge.succeeded', ch, request), stripeEvent('payment_intent.amount_capturable_updated', pi, request));
  } else {
    pi.status = 'succeeded';
    pi.amount_received = pi.amount;
    ch.captured = true;
    ch.amount_captured = pi.amount;
    ch.balance_transaction = sid('txn');
    evs.push(stripeEvent('charge.succeeded', ch, request), stripeEvent('payment_intent.succeeded', pi, request));
  }
  return { ok, evs, ch };
}

function expandIntent(pi, expand) {
  const out = clone(pi);
  if ((expand || []).includes('latest_charge') && out.latest_charge) out.latest_charge = clone(S.charges.get(out.latest_charge));
  return out;
}

function needIntent(id) {
  const pi = S.intents.get(id);
  if (!pi) throw stripeError(404, 'resource_missing', `No such payment_intent: '${id}'`, { param: 'intent' });
  return pi;
}

function needPm(id) {
  const pm = S.pms.get(id);
  if (!pm) throw stripeError(404, 'resource_missing', `No such PaymentMethod: '${id}'`, { param: 'payment_method' });
  return pm;
}

function newPaymentMethod({ brand = 'visa', last4 = '4242', exp_month = 12, exp_year = 2030 } = {}) {
  const pm = clone(F.payment_method);
  const id = sid('pm');
  Object.assign(pm, {
    id,
    allow_redisplay: 'unspecified',
    billing_details: { address: { city: null, country: null, line1: null, line2: null, postal_code: null, state: null }, email: null, name: null, phone: null, tax_id: null },
    created: now(),
    customer: null,
    metadata: {},
  });
  Object.assign(pm.card, {
    brand,
    display_brand: brand,
    exp_month: Number(exp_month),
    exp_year: Number(exp_year),
    fingerprint: rand(16),
    last4: String(last4),
    networks: { available: [brand], preferred: null },
    wallet: null,
  });
  S.pms.set(id, pm);
  return pm;
}

const stripeRoutes = [
  ['POST', /^\/v1\/payment_intents$/, (p, _m, request) => {
    const amount = int(p.amount, 'amount', { min: 1 });
    if (!/^[a-z]{3}$/.test(p.currency ?? '')) throw stripeError(400, 'parameter_invalid_string', 'Invalid currency', { param: 'currency' });
    const capture = p.capture_method ?? 'automatic';
    if (!['automatic', 'automatic_async', 'manual'].includes(capture)) throw stripeError(400, 'parameter_invalid_string', 'Invalid capture_method', { param: 'capture_method' });
    if (p.customer && !S.customers.has(p.customer)) throw stripeError(400, 'resource_missing', `No such customer: '${p.customer}'`, { param: 'customer' });
    if (p.payment_method) {
      const pm = needPm(p.payment_method);
      if (p.customer && pm.customer !== p.customer) {
        throw stripeError(400, 'payment_method_unexpected_state', 'The provided PaymentMethod does not belong to the Customer.', { param: 'payment_method' });
      }
    }
    const pi = clone(F.payment_intent);
    const id = sid('pi');
    Object.assign(pi, {
      id,
      amount,
      amount_capturable: 0,
      amount_details: { tip: {} },
      amount_received: 0,
      automatic_payment_methods: null,
      canceled_at: null,
      cancellation_reason: null,
      capture_method: capture,
      client_secret: `${id}_secret_${rand(25)}`,
      created: now(),
      currency: p.currency,
      customer: p.customer ?? null,
      description: p.description ?? null,
      last_payment_error: null,
      latest_charge: null,
      metadata: p.metadata ?? {},
      next_action: null,
      payment_method: p.payment_method ?? null,
      payment_method_configuration_details: null,
      payment_method_types: ['card'],
      processing: null,
      setup_future_usage: null,
      shipping: null,
      status: p.payment_method ? 'requires_confirmation' : 'requires_payment_method',
      transfer_data: null,
    });
    S.intents.set(id, pi);
    let evs = [stripeEvent('payment_intent.created', pi, request)];
    if (p.payment_method && p.confirm === 'true') {
      const done = stripeConfirm(pi, p.payment_method, 'authorise', request);
      evs = evs.concat(done.evs);
      if (!done.ok) {
        // Stripe answers an off-session decline with a 402 carrying the intent.
        return { status: 402, body: stripeError(402, 'card_declined', 'Your card was declined.', { decline_code: 'generic_decline', payment_intent: clone(pi) }).body, evs, kind: 'create' };
      }
    }
    return { body: expandIntent(pi, p.expand), evs, kind: 'create' };
  }],
  ['GET', /^\/v1\/payment_intents\/([^/]+)$/, (p, m) => ({ body: expandIntent(needIntent(m[1]), p.expand) })],
  ['POST', /^\/v1\/payment_intents\/([^/]+)$/, (p, m) => {
    const pi = needIntent(m[1]);
    if (p.description !== undefined) pi.description = p.description;
    if (p.metadata) Object.assign(pi.metadata, p.metadata);
    return { body: expandIntent(pi, p.expand) };
  }],
  ['POST', /^\/v1\/payment_intents\/([^/]+)\/capture$/, (p, m, request) => {
    const pi = needIntent(m[1]);
    if (pi.status !== 'requires_capture') {
      throw stripeError(400, 'payment_intent_unexpected_state', `This PaymentIntent could not be captured because it has a status of ${pi.status}. Only a PaymentIntent with one of the following statuses may be captured: requires_capture.`);
    }
    const amount = p.amount_to_capture === undefined ? pi.amount_capturable : int(p.amount_to_capture, 'amount_to_capture', { min: 1 });
    if (amount > pi.amount_capturable) {
      throw stripeError(400, 'amount_too_large', `The amount to capture (${amount}) is more than the amount capturable (${pi.amount_capturable}).`, { param: 'amount_to_capture' });
    }
    const ch = S.charges.get(pi.latest_charge);
    pi.amount_received = amount;
    pi.amount_capturable = 0;
    pi.status = 'succeeded';
    ch.captured = true;
    ch.amount_captured = amount;
    // Stripe releases the uncaptured rest, counting it as refunded on the charge.
    ch.amount_refunded = ch.amount - amount;
    ch.balance_transaction = sid('txn');
    return { body: expandIntent(pi, p.expand), evs: [stripeEvent('charge.captured', ch, request), stripeEvent('payment_intent.succeeded', pi, request)], kind: 'capture' };
  }],
  ['POST', /^\/v1\/payment_intents\/([^/]+)\/cancel$/, (p, m, request) => {
    const pi = needIntent(m[1]);
    const cancellable = ['requires_payment_method', 'requires_capture', 'requires_confirmation', 'requires_action', 'processing'];
    if (!cancellable.includes(pi.status)) {
      throw stripeError(400, 'payment_intent_unexpected_state', `You cannot cancel this PaymentIntent because it has a status of ${pi.status}. Only a PaymentIntent with one of the following statuses may be canceled: ${cancellable.join(', ')}.`);
    }
    const ch = pi.latest_charge ? S.charges.get(pi.latest_charge) : null;
    if (ch && pi.status === 'requires_capture') {
      ch.amount_refunded = ch.amount;
      ch.refunded = true;
    }
    pi.status = 'canceled';
    pi.canceled_at = now();
    pi.cancellation_reason = p.cancellation_reason ?? null;
    pi.amount_capturable = 0;
    return { body: expandIntent(pi, p.expand), evs: [stripeEvent('payment_intent.canceled', pi, request)], kind: 'cancel' };
  }],
  ['POST', /^\/v1\/refunds$/, (p, _m, request) => {
    let pi = p.payment_intent ? needIntent(p.payment_intent) : null;
    const ch = pi ? S.charges.get(pi.latest_charge) : S.charges.get(p.charge);
    if (!ch) throw stripeError(400, 'resource_missing', `No such charge: '${p.charge}'`, { param: 'charge' });
    pi = pi ?? S.intents.get(ch.payment_intent);
    if (!ch.captured) throw stripeError(400, 'charge_not_captured', `This PaymentIntent (${pi?.id}) does not have a successful charge to refund.`);
    const refundedByRefunds = ch.refunds.data.filter((r) => r.status !== 'failed' && r.status !== 'canceled').reduce((a, r) => a + r.amount, 0);
    const remaining = ch.amount_captured - refundedByRefunds;
    if (remaining <= 0) throw stripeError(400, 'charge_already_refunded', `Charge ${ch.id} has already been refunded.`);
    const amount = p.amount === undefined ? remaining : int(p.amount, 'amount', { min: 1 });
    if (amount > remaining) {
      throw stripeError(400, 'amount_too_large', `Refund amount (${amount}) is greater than unrefunded amount on charge (${remaining})`, { param: 'amount' });
    }
    const re = clone(F.refund);
    Object.assign(re, {
      id: sid('re'),
      amount,
      balance_transaction: sid('txn'),
      charge: ch.id,
      created: now(),
      currency: ch.currency,
      metadata: p.metadata ?? {},
      payment_intent: ch.payment_intent,
      reason: p.reason ?? null,
      status: 'succeeded',
    });
    S.refunds.set(re.id, re);
    ch.amount_refunded += amount;
    ch.refunds.data.unshift(clone(re));
    ch.refunds.total_count += 1;
    ch.refunded = refundedByRefunds + amount === ch.amount_captured;
    return { body: clone(re), evs: [stripeEvent('refund.created', re, request), stripeEvent('charge.refunded', ch, request)], kind: 'refund' };
  }],
  ['GET', /^\/v1\/refunds\/([^/]+)$/, (_p, m) => {
    const re = S.refunds.get(m[1]);
    if (!re) throw stripeError(404, 'resource_missing', `No such refund: '${m[1]}'`, { param: 'id' });
    return { body: clone(re) };
  }],
  ['POST', /^\/v1\/customers$/, (p, _m, request) => {
    const cus = clone(F.customer);
    Object.assign(cus, {
      id: rid('cus'),
      address: null,
      created: now(),
      currency: null,
      description: p.description ?? null,
      discount: null,
      email: p.email ?? null,
      invoice_prefix: rand(7).toUpperCase(),
      metadata: p.metadata ?? {},
      name: p.name ?? null,
      phone: p.phone ?? null,
      shipping: null,
    });
    S.customers.set(cus.id, cus);
    return { body: clone(cus), evs: [stripeEvent('customer.created', cus, request)] };
  }],
  ['GET', /^\/v1\/customers\/([^/]+)$/, (_p, m) => {
    const cus = S.customers.get(m[1]);
    if (!cus) throw stripeError(404, 'resource_missing', `No such customer: '${m[1]}'`, { param: 'id' });
    return { body: clone(cus) };
  }],
  ['GET', /^\/v1\/payment_methods\/([^/]+)$/, (_p, m) => ({ body: clone(needPm(m[1])) })],
  ['POST', /^\/v1\/payment_methods\/([^/]+)\/attach$/, (p, m, request) => {
    const pm = needPm(m[1]);
    if (!S.customers.has(p.customer)) throw stripeError(400, 'resource_missing', `No such customer: '${p.customer}'`, { param: 'customer' });
    if (pm.customer && pm.customer !== p.customer) {
      throw stripeError(400, 'payment_method_unexpected_state', 'The payment method you provided has already been attached to a customer.');
    }
    pm.customer = p.customer;
    return { body: clone(pm), evs: [stripeEvent('payment_method.attached', pm, request)] };
  }],
  ['POST', /^\/v1\/payment_methods\/([^/]+)\/detach$/, (_p, m, request) => {
    const pm = needPm(m[1]);
    if (!pm.customer) {
      throw stripeError(400, 'payment_method_unexpected_state', 'The payment method you provided is not attached to a customer so detachment is impossible.');
    }
    pm.customer = null;
    return { body: clone(pm), evs: [stripeEvent('payment_method.detached', pm, request)] };
  }],
];

// ---------------------------------------------------------------- Razorpay

const NETWORKS = { visa: 'Visa', mastercard: 'MasterCard', amex: 'American Express', rupay: 'RuPay', diners: 'Diners Club', maestro: 'Maestro' };

function needOrder(id) {
  const o = R.orders.get(id);
  if (!o) throw rzpError('The id provided does not exist', 'id');
  return o;
}
function needPayment(id) {
  const p = R.payments.get(id);
  if (!p) throw rzpError('The id provided does not exist', 'id');
  return p;
}
const collection = (items) => ({ entity: 'collection', count: items.length, items: items.map(clone) });
const orderPayments = (orderId) => [...R.payments.values()].filter((p) => p.order_id === orderId).reverse();

function rzpCaptureNow(pay, order) {
  pay.status = 'captured';
  pay.captured = true;
  pay.fee = Math.round(pay.amount * 0.02);
  pay.tax = Math.round(pay.fee * 0.18 / 1.18);
  order.status = 'paid';
  order.amount_paid = pay.amount;
  order.amount_due = 0;
  return [razorpayEvent('payment.captured', { payment: pay }), razorpayEvent('order.paid', { payment: pay, order })];
}

function rzpConfirm(order, outcome, tokenId) {
  const meta = R.orderMeta.get(order.id);
  const token = tokenId ? R.tokens.get(tokenId) : null;
  const ok = outcome === 'authorise';
  const pay = {
    id: rid('pay'),
    entity: 'payment',
    amount: order.amount,
    currency: order.currency,
    status: ok ? 'authorized' : 'failed',
    order_id: order.id,
    invoice_id: null,
    international: false,
    method: 'card',
    amount_refunded: 0,
    refund_status: null,
    captured: false,
    description: null,
    card_id: rid('card'),
    bank: null,
    wallet: null,
    vpa: null,
    email: 'void@razorpay.com',
    contact: '+919000090000',
    customer_id: meta?.customer_id ?? token?._customer ?? null,
    token_id: token?.id ?? null,
    notes: [],
    fee: null,
    tax: null,
    error_code: ok ? null : 'BAD_REQUEST_ERROR',
    error_description: ok ? null : 'Your payment has been declined by your bank.',
    error_source: ok ? null : 'bank',
    error_step: ok ? null : 'payment_authorization',
    error_reason: ok ? null : 'card_declined',
    acquirer_data: { auth_code: ok ? String(crypto.randomInt(100000, 999999)) : null },
    created_at: now(),
  };
  R.payments.set(pay.id, pay);
  order.status = 'attempted';
  order.attempts += 1;
  if (!ok) return { ok, pay, evs: [razorpayEvent('payment.failed', { payment: pay })] };
  let evs = [razorpayEvent('payment.authorized', { payment: pay })];
  if (meta?.payment_capture) evs = evs.concat(rzpCaptureNow(pay, order));
  return { ok, pay, evs };
}

function newToken(customerId, { brand = 'visa', last4 = '4242', exp_month = 12, exp_year = 2030 } = {}) {
  const t = {
    id: rid('token'),
    entity: 'token',
    token: rand(14),
    bank: null,
    wallet: null,
    method: 'card',
    card: {
      entity: 'card',
      name: '',
      last4: String(last4),
      network: NETWORKS[brand] ?? brand.charAt(0).toUpperCase() + brand.slice(1),
      type: 'credit',
      issuer: null,
      international: false,
      emi: false,
      sub_type: 'consumer',
      expiry_month: Number(exp_month),
      expiry_year: Number(exp_year),
      flows: { otp: true, recurring: true },
    },
    recurring: true,
    recurring_details: { status: 'confirmed', failure_reason: null },
    auth_type: null,
    mrn: null,
    used_at: now(),
    created_at: now(),
    expired_at: Math.floor(Date.UTC(Number(exp_year), Number(exp_month), 1) / 1000),
    dcc_enabled: false,
    billing_address: null,
  };
  R.tokens.set(t.id, { ...t, _customer: customerId ?? null });
  return t;
}
const publicToken = (t) => {
  const { _customer, ...rest } = t;
  return clone(rest);
};

const razorpayRoutes = [
  ['POST', /^\/v1\/orders$/, (b) => {
    if (!Number.isInteger(b.amount)) throw rzpError('The amount must be an integer.', 'amount');
    if (b.amount < 100) throw rzpError('Order amount less than minimum amount allowed', 'amount');
    if (!/^[A-Z]{3}$/.test(b.currency ?? '')) throw rzpError('The currency field is required.', 'currency');
    if (b.receipt !== undefined && String(b.receipt).length > 40) throw rzpError('receipt: the length must be no more than 40.', 'receipt');
    if (b.notes && Object.keys(b.notes).length > 15) throw rzpError('Number of fields in notes should be less than or equal to 15', 'notes');
    if (b.customer_id && !R.customers.has(b.customer_id)) throw rzpError('The id provided does not exist', 'customer_id');
    const order = {
      id: rid('order'),
      entity: 'order',
      amount: b.amount,
      amount_paid: 0,
      amount_due: b.amount,
      currency: b.currency,
      receipt: b.receipt ?? null,
      offer_id: null,
      status: 'created',
      attempts: 0,
      notes: b.notes && Object.keys(b.notes).length ? b.notes : [],
      created_at: now(),
    };
    R.orders.set(order.id, order);
    R.orderMeta.set(order.id, { payment_capture: b.payment_capture === 1 || b.payment_capture === true || b.payment_capture === '1', customer_id: b.customer_id ?? null });
    return { body: clone(order), kind: 'create' };
  }],
  ['GET', /^\/v1\/orders$/, (_b, _m, q) => {
    let items = [...R.orders.values()].reverse();
    if (q.get('receipt') !== null) items = items.filter((o) => o.receipt === q.get('receipt'));
    return { body: collection(items) };
  }],
  ['GET', /^\/v1\/orders\/([^/]+)$/, (_b, m) => ({ body: clone(needOrder(m[1])) })],
  ['GET', /^\/v1\/orders\/([^/]+)\/payments$/, (_b, m) => ({ body: collection(orderPayments(needOrder(m[1]).id)) })],
  ['GET', /^\/v1\/payments\/([^/]+)$/, (_b, m) => ({ body: clone(needPayment(m[1])) })],
  ['POST', /^\/v1\/payments\/([^/]+)\/capture$/, (b, m) => {
    const pay = needPayment(m[1]);
    if (pay.captured) throw rzpError('This payment has already been captured');
    if (pay.status !== 'authorized') throw rzpError('Only payments which have been authorized and not yet captured can be captured');
    if (!Number.isInteger(b.amount)) throw rzpError('The amount field is required.', 'amount');
    if (b.amount !== pay.amount) throw rzpError('Capture amount must be equal to the amount authorized', 'amount');
    if (b.currency !== pay.currency) throw rzpError('The currency should be same as the payment currency', 'currency');
    const evs = rzpCaptureNow(pay, needOrder(pay.order_id));
    return { body: clone(pay), evs, kind: 'capture' };
  }],
  ['POST', /^\/v1\/payments\/([^/]+)\/refund$/, (b, m) => {
    const pay = needPayment(m[1]);
    if (!pay.captured) throw rzpError('The payment has not been captured yet, only captured payments can be refunded');
    const remaining = pay.amount - pay.amount_refunded;
    if (remaining <= 0) throw rzpError('The payment has been fully refunded already');
    const amount = b.amount === undefined ? remaining : b.amount;
    if (!Number.isInteger(amount) || amount < 100) throw rzpError('The amount must be atleast INR 1.00', 'amount');
    if (amount > remaining) throw rzpError('The refund amount provided is greater than amount captured', 'amount');
    if (b.receipt !== undefined && String(b.receipt).length > 40) throw rzpError('receipt: the length must be no more than 40.', 'receipt');
    const rf = {
      id: rid('rfnd'),
      entity: 'refund',
      amount,
      currency: pay.currency,
      payment_id: pay.id,
      notes: b.notes && Object.keys(b.notes).length ? b.notes : [],
      receipt: b.receipt ?? null,
      acquirer_data: { arn: null },
      created_at: now(),
      batch_id: null,
      status: 'processed',
      speed_processed: 'normal',
      speed_requested: b.speed ?? 'normal',
    };
    R.refunds.set(rf.id, rf);
    pay.amount_refunded += amount;
    pay.refund_status = pay.amount_refunded === pay.amount ? 'full' : 'partial';
    if (pay.refund_status === 'full') pay.status = 'refunded';
    const evs = [razorpayEvent('refund.created', { refund: rf, payment: pay }), razorpayEvent('refund.processed', { refund: rf, payment: pay })];
    return { body: clone(rf), evs, kind: 'refund' };
  }],
  ['GET', /^\/v1\/refunds\/([^/]+)$/, (_b, m) => {
    const rf = R.refunds.get(m[1]);
    if (!rf) throw rzpError('The id provided does not exist', 'id');
    return { body: clone(rf) };
  }],
  ['POST', /^\/v1\/customers$/, (b) => {
    if (!b.name || String(b.name).length < 3 || String(b.name).length > 50) throw rzpError('The name must be between 3 and 50 characters.', 'name');
    const failExisting = !(b.fail_existing === 0 || b.fail_existing === '0' || b.fail_existing === false);
    const same = [...R.customers.values()].find((c) => c.name === b.name && c.email === (b.email ?? null) && c.contact === (b.contact ?? null));
    if (same) {
      if (failExisting) throw rzpError('Customer already exists for the merchant');
      return { body: clone(same) };
    }
    const c = {
      id: rid('cust'),
      entity: 'customer',
      name: b.name,
      email: b.email ?? null,
      contact: b.contact ?? null,
      gstin: b.gstin ?? null,
      notes: b.notes && Object.keys(b.notes).length ? b.notes : [],
      created_at: now(),
    };
    R.customers.set(c.id, c);
    return { body: clone(c) };
  }],
  ['GET', /^\/v1\/customers\/([^/]+)$/, (_b, m) => {
    const c = R.customers.get(m[1]);
    if (!c) throw rzpError('The id provided does not exist', 'id');
    return { body: clone(c) };
  }],
  ['GET', /^\/v1\/customers\/([^/]+)\/tokens$/, (_b, m) => {
    if (!R.customers.has(m[1])) throw rzpError('The id provided does not exist', 'id');
    return { body: collection([...R.tokens.values()].filter((t) => t._customer === m[1]).map(publicToken)) };
  }],
  ['DELETE', /^\/v1\/customers\/([^/]+)\/tokens\/([^/]+)$/, (_b, m) => {
    const t = R.tokens.get(m[2]);
    if (!t || t._customer !== m[1]) throw rzpError('The id provided does not exist', 'id');
    R.tokens.delete(m[2]);
    return { body: { deleted: true } };
  }],
];

// ---------------------------------------------------------------- the HTTP server

function send(res, status, body, headers = {}) {
  if (res.writableEnded || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

async function readBody(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return Buffer.concat(chunks);
}

function authorised(provider, req) {
  const auth = req.headers.authorization ?? '';
  if (provider === 'stripe') return auth === `Bearer ${keys.stripe_secret_key}`;
  const expected = 'Basic ' + Buffer.from(`${keys.razorpay_key_id}:${keys.razorpay_key_secret}`).toString('base64');
  return auth === expected;
}

async function api(provider, req, res, subpath, query, raw) {
  const idemKey = (provider === 'stripe' ? req.headers['idempotency-key'] : req.headers['x-razorpay-idempotency']) ?? null;
  const call = { provider, method: req.method, path: subpath, query: query.toString(), idempotency_key: idemKey, status: null, at: new Date().toISOString(), at_ms: Date.now() };
  calls.push(call);
  const answer = (status, body, headers = {}) => {
    call.status = status;
    send(res, status, body, { 'request-id': `req_${rand(14)}`, ...headers });
  };
  if (faults.fail_next > 0) {
    faults.fail_next -= 1;
    const body = provider === 'stripe'
      ? { error: { type: 'api_error', message: 'An unknown error occurred (injected by the double).' } }
      : { error: { code: 'SERVER_ERROR', description: 'The server encountered an error. The incident has been reported to admins.', source: 'NA', step: 'NA', reason: 'NA', metadata: {} } };
    return answer(500, body);
  }
  if (!authorised(provider, req)) {
    const body = provider === 'stripe'
      ? { error: { type: 'invalid_request_error', message: 'Invalid API Key provided: sk_****' } }
      : { error: { code: 'BAD_REQUEST_ERROR', description: 'Authentication failed', source: 'NA', step: 'NA', reason: 'NA', metadata: {} } };
    return answer(401, body);
  }
  let params;
  if (provider === 'stripe') {
    params = req.method === 'GET' ? parseForm(query.toString()) : parseForm(raw.toString('utf8'));
  } else {
    try {
      params = raw.length ? JSON.parse(raw.toString('utf8')) : {};
    } catch {
      return answer(400, rzpError('The request body is not valid JSON').body);
    }
  }
  // Idempotency: the same key on the same path with the same parameters replays the first
  // answer (no second object, no second webhook); the same key elsewhere is an error.
  const signature = JSON.stringify(sorted(params));
  const slot = idemKey && req.method !== 'GET' ? `${provider}\u0000${idemKey}` : null;
  if (slot && idem.has(slot)) {
    const first = idem.get(slot);
    if (first.path !== subpath || first.method !== req.method || first.params !== signature) {
      const body = provider === 'stripe'
        ? stripeError(400, 'idempotency_error', `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${idemKey}' if you meant to execute a different request.`).body
        : rzpError('Idempotency key reused with a different request').body;
      return answer(400, body);
    }
    return answer(first.status, first.body, { 'idempotent-replayed': 'true' });
  }
  const routes = provider === 'stripe' ? stripeRoutes : razorpayRoutes;
  let route = null;
  let match = null;
  for (const [method, re, fn] of routes) {
    const m = re.exec(subpath);
    if (m && method === req.method) {
      route = fn;
      match = m;
      break;
    }
  }
  if (!route) {
    const body = provider === 'stripe'
      ? stripeError(404, 'resource_missing', `Unrecognized request URL (${req.method}: ${subpath}).`).body
      : rzpError('The requested URL was not found on the server.', null, 404).body;
    return answer(404, body);
  }
  let out;
  try {
    const request = { id: `req_${rand(14)}`, key: idemKey };
    out = provider === 'stripe' ? route(params, match, request) : route(params, match, query);
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    out = { status: e.status, body: e.body };
  }
  const status = out.status ?? 200;
  if (slot) idem.set(slot, { path: subpath, method: req.method, params: signature, status, body: out.body });
  const deliveries = (out.evs ?? []).map(enqueue);
  if (faults.webhook_before_response && (out.kind === 'capture' || out.kind === 'refund')) await Promise.all(deliveries);
  if (out.kind === 'create' && faults.timeout_next_create) {
    faults.timeout_next_create = false;
    call.hung_ms = faults.hang_ms;
    await sleep(faults.hang_ms);
  }
  answer(status, out.body);
}

function sorted(v) {
  if (Array.isArray(v)) return v.map(sorted);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted(v[k])]));
  return v;
}

// ---------------------------------------------------------------- the control API

async function control(req, res, subpath, raw) {
  let b = {};
  if (raw.length) {
    try {
      b = JSON.parse(raw.toString('utf8'));
    } catch {
      return send(res, 400, { error: 'the body is not JSON' });
    }
  }
  const route = `${req.method} ${subpath}`;
  switch (route) {
    case 'POST /config': {
      for (const k of [...Object.keys(config), ...Object.keys(keys)]) {
        if (b[k] === undefined) continue;
        if (k in config) config[k] = b[k];
        else keys[k] = b[k];
      }
      return send(res, 200, { ok: true, stripe_webhook_url: config.stripe_webhook_url, razorpay_webhook_url: config.razorpay_webhook_url });
    }
    case 'POST /faults': {
      if (b.reset) faults = defaultFaults();
      for (const k of Object.keys(defaultFaults())) if (b[k] !== undefined) faults[k] = b[k];
      return send(res, 200, faults);
    }
    case 'GET /faults':
      return send(res, 200, faults);
    case 'POST /confirm': {
      const ref = String(b.reference ?? '');
      const outcome = b.outcome ?? 'authorise';
      if (!['authorise', 'decline'].includes(outcome)) return send(res, 400, { error: 'outcome is authorise or decline' });
      try {
        if (ref.startsWith('pi_')) {
          const pi = needIntent(ref);
          const pm = b.payment_method ?? newPaymentMethod().id;
          const done = stripeConfirm(pi, pm, outcome, null);
          done.evs.forEach(enqueue);
          return send(res, 200, { provider: 'stripe', reference: ref, status: pi.status, charge: done.ch.id, payment_method: pm, events: done.evs.map((e) => e.id) });
        }
        if (ref.startsWith('order_')) {
          const order = needOrder(ref);
          const done = rzpConfirm(order, outcome, b.token ?? null);
          done.evs.forEach(enqueue);
          const answer = { provider: 'razorpay', reference: ref, status: done.pay.status, charge: done.pay.id, events: done.evs.map((e) => e.id) };
          if (done.ok) {
            // What Razorpay's checkout hands the customer's client.
            Object.assign(answer, {
              razorpay_order_id: ref,
              razorpay_payment_id: done.pay.id,
              razorpay_signature: hmacHex(keys.razorpay_key_secret, `${ref}|${done.pay.id}`),
            });
          }
          return send(res, 200, answer);
        }
      } catch (e) {
        if (e instanceof ApiError) return send(res, e.status, e.body);
        throw e;
      }
      return send(res, 404, { error: `no payment ${ref}` });
    }
    case 'POST /payment_methods': {
      const pm = newPaymentMethod(b);
      if (b.decline) S.declining.add(pm.id);
      if (b.razorpay_customer && !R.customers.has(b.razorpay_customer)) return send(res, 400, { error: `no Razorpay customer ${b.razorpay_customer}` });
      const token = newToken(b.razorpay_customer ?? null, b);
      return send(res, 200, { id: pm.id, stripe: pm.id, razorpay: token.id });
    }
    case 'GET /calls':
      return send(res, 200, calls);
    case 'GET /events':
      return send(res, 200, events.map(({ deliveries, ...e }) => ({ ...e, deliveries: clone(deliveries) })));
    case 'POST /resend': {
      const ev = events.find((e) => e.id === b.event_id);
      if (!ev) return send(res, 404, { error: `no event ${b.event_id}` });
      const attempt = await deliver(ev);
      return send(res, 200, { event_id: ev.id, status: attempt.status, error: attempt.error });
    }
    case 'POST /sign': {
      // Stripe's library signs what a test hands it (a stale timestamp, another secret).
      const payload = typeof b.payload === 'string' ? b.payload : JSON.stringify(b.payload);
      const secret = b.secret ?? config.stripe_webhook_secret;
      if (!secret) return send(res, 400, { error: 'no secret given or configured' });
      const opts = { payload, secret };
      if (b.timestamp !== undefined) opts.timestamp = b.timestamp;
      return send(res, 200, { header: Stripe.webhooks.generateTestHeaderString(opts) });
    }
    default:
      return send(res, 404, { error: `no control ${route}` });
  }
}

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, 'http://double');
    const raw = await readBody(req);
    const m = /^\/(stripe|razorpay|_double)(\/.*)?$/.exec(url.pathname);
    if (!m) return send(res, 404, { error: 'paths start with /stripe, /razorpay or /_double' });
    if (m[1] === '_double') return await control(req, res, m[2] ?? '/', raw);
    return await api(m[1], req, res, m[2] ?? '/', url.searchParams, raw);
  } catch (e) {
    console.error('payments double:', e);
    send(res, 500, { error: { type: 'api_error', message: `the double failed: ${e.message}` } });
  }
});
server.keepAliveTimeout = 5000;

const port = Number(process.argv[2] ?? process.env.PATTY_DOUBLE_PORT ?? 0);
server.listen(port, '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`);
});
if (process.env.PATTY_DOUBLE_STDIN_LIFELINE === '1') {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
