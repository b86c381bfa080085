-- Online payments (see cloud/src/payments). One row per payment attempt at a provider; its
-- amounts only grow (authorised, captured, refunded), and the state moves as the payments rules
-- allow. Columns that identify a person or a card (provider customer ids, method tokens, billing
-- names) hold AES-256-GCM ciphertexts under the at-rest key, never the value.
CREATE TABLE payments (
    id            TEXT PRIMARY KEY,
    purpose       TEXT NOT NULL,               -- order | top_up
    order_id      TEXT,
    customer_id   TEXT NOT NULL,
    outlet_id     TEXT,
    provider      TEXT NOT NULL,               -- test | stripe | razorpay | wallet
    reference     TEXT,                        -- the provider's id, once it answered
    charge        TEXT,                        -- the provider's money movement (ch_, pay_)
    state         TEXT NOT NULL,               -- created | open | authorised | captured | cancelled | failed
    currency      TEXT NOT NULL,
    amount        BIGINT NOT NULL,             -- asked of the provider
    authorised    BIGINT NOT NULL DEFAULT 0,
    captured      BIGINT NOT NULL DEFAULT 0,
    refunded      BIGINT NOT NULL DEFAULT 0,   -- settled refunds
    refunding     BIGINT NOT NULL DEFAULT 0,   -- refunds asked, not yet settled
    fee           BIGINT NOT NULL DEFAULT 0,
    wallet_amount BIGINT NOT NULL DEFAULT 0,   -- the part of the order paid from the wallet
    method_id     TEXT,
    failure       TEXT,
    due           TEXT,                        -- a provider call owed: capture | cancel | refund_rest
    due_ms        BIGINT,
    captured_ms   BIGINT,
    created_ms    BIGINT NOT NULL,
    updated_ms    BIGINT NOT NULL,
    CHECK (captured <= authorised OR provider = 'wallet'),
    CHECK (refunded + refunding <= captured + wallet_amount)
);
CREATE UNIQUE INDEX payments_reference ON payments (provider, reference);
CREATE INDEX payments_order ON payments (order_id);
CREATE INDEX payments_customer ON payments (customer_id, created_ms);
CREATE INDEX payments_state ON payments (state, updated_ms);
CREATE INDEX payments_outlet ON payments (outlet_id, created_ms);
CREATE INDEX payments_due ON payments (due_ms);

-- Webhooks accepted, by the provider's event id: a repeat is acknowledged and changes nothing.
CREATE TABLE payment_webhooks (
    provider    TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    kind        TEXT NOT NULL,
    payment_id  TEXT,
    received_ms BIGINT NOT NULL,
    PRIMARY KEY (provider, event_id)
);

-- Refunds: asked (pending, its amount held on the payment's `refunding`), then settled by the
-- provider (succeeded) or not (failed, the hold given back).
CREATE TABLE refunds (
    id          TEXT PRIMARY KEY,
    payment_id  TEXT NOT NULL REFERENCES payments (id),
    order_id    TEXT,
    amount      BIGINT NOT NULL CHECK (amount > 0),
    destination TEXT NOT NULL,                 -- card | wallet
    reason      TEXT NOT NULL,
    by_user     TEXT NOT NULL,
    request_key TEXT UNIQUE,                   -- the asker's idempotency key
    state       TEXT NOT NULL,                 -- pending | succeeded | failed
    reference   TEXT,                          -- the provider's refund id
    created_ms  BIGINT NOT NULL,
    updated_ms  BIGINT NOT NULL
);
CREATE INDEX refunds_payment ON refunds (payment_id);
CREATE INDEX refunds_reference ON refunds (reference);

-- Our customer's customer record at a provider (sealed).
CREATE TABLE payment_customers (
    customer_id       TEXT NOT NULL,
    provider          TEXT NOT NULL,
    provider_customer TEXT NOT NULL,
    PRIMARY KEY (customer_id, provider)
);

-- Stored cards: the provider's token (sealed), brand, last four digits and expiry. Never a number.
CREATE TABLE payment_methods (
    id           TEXT PRIMARY KEY,
    customer_id  TEXT NOT NULL,
    provider     TEXT NOT NULL,
    token        TEXT NOT NULL,
    brand        TEXT NOT NULL,
    last4        TEXT NOT NULL,
    exp_month    INTEGER NOT NULL,
    exp_year     INTEGER NOT NULL,
    billing_name TEXT,
    created_ms   BIGINT NOT NULL
);
CREATE INDEX payment_methods_customer ON payment_methods (customer_id);

-- The double-entry ledger: every money movement is a transaction whose entries sum to zero
-- (debits positive, credits negative); nothing is updated in place. A wallet is a liability to
-- its customer: its balance is minus the sum of its account's entries.
CREATE TABLE wallets (
    customer_id TEXT PRIMARY KEY,
    currency    TEXT NOT NULL,
    created_ms  BIGINT NOT NULL
);
CREATE TABLE ledger_txns (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    customer_id TEXT,
    payment_id  TEXT,
    refund_id   TEXT,
    currency    TEXT NOT NULL,
    at_ms       BIGINT NOT NULL
);
CREATE INDEX ledger_txns_payment ON ledger_txns (payment_id);
CREATE TABLE ledger_entries (
    id      BIGSERIAL PRIMARY KEY,
    txn_id  TEXT NOT NULL REFERENCES ledger_txns (id),
    account TEXT NOT NULL,
    amount  BIGINT NOT NULL,
    at_ms   BIGINT NOT NULL
);
CREATE INDEX ledger_entries_account ON ledger_entries (account, at_ms);
CREATE INDEX ledger_entries_txn ON ledger_entries (txn_id);

-- The payments worker follows the order events (capture on accept, release on cancel) from the
-- events written from now on.
INSERT INTO dispatch_cursor (name, position) SELECT 'payments', COALESCE(MAX(position), 0) FROM events;
