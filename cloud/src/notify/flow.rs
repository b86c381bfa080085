//! The shells around the rules: notices written as messages (one per person and channel their
//! preferences allow, each under its idempotency key), security messages queued with their token
//! sealed, and due messages sent: claimed, rendered, handed to their channel, and settled by the
//! answer (sent; tried again later; the push subscription removed; a dead letter).

use super::NotifyState;
use super::channel::{Outgoing, SendError};
use super::plan::{Notice, money};
use super::rules::{self, AfterFailure, Category, Decision, Kind, Via};
use super::store::{self, Message, NewMessage};
use super::templates::{self, Vars};
use crate::infra::db::now_ms;
use crate::infra::error::{Error, Result};
use crate::infra::mail::{Purpose, SecurityMessage};
use chrono_tz::Tz;
use futures::StreamExt;

/// How long a claimed message is held before another notifier may take it, ms (longer than any
/// send's timeout).
const LEASE_MS: i64 = 60_000;

fn new_id() -> String {
    format!("ntf_{}", uuid::Uuid::now_v7().simple())
}

/// A person's contact details and settings, as the notifier needs them.
struct Person {
    email: Option<String>,
    phone: Option<String>,
    prefs: rules::Prefs,
    lang: String,
    tz: Tz,
}

async fn person(state: &NotifyState, user: &str) -> Result<Option<Person>> {
    let Some(u) = crate::identity::store::load_user(&state.db.pool, user).await? else { return Ok(None) };
    let prefs = store::prefs(&state.db, user).await?;
    let config = &state.config.notify;
    let lang = prefs.lang.clone().unwrap_or_else(|| config.default_lang.clone());
    let tz = prefs.time_zone.as_deref().unwrap_or(&config.default_time_zone).parse().unwrap_or(chrono_tz::UTC);
    let phone = crate::identity::store::phone_of(&state.db, user).await?;
    let phone = phone.and_then(|p| crate::infra::phone::e164(&p).ok());
    Ok(Some(Person { email: u.email, phone, prefs, lang, tz }))
}

/// Writes the messages `notice` makes (from the event `event_id`); returns how many were new.
pub async fn enqueue(state: &NotifyState, event_id: &str, notice: &Notice) -> Result<usize> {
    let Some(p) = person(state, &notice.recipient).await? else { return Ok(0) };
    let now = now_ms();
    let mut vars = notice.vars.clone();
    // Amounts were written in English; a Dutch reader gets a decimal comma.
    if p.lang == "nl" {
        for v in vars.values_mut() {
            if let Some((currency, amount)) = v.split_once(' ')
                && currency.len() == 3
                && currency.chars().all(|c| c.is_ascii_uppercase())
                && let Some(minor) = parse_amount(amount)
            {
                *v = money(minor, currency, "nl");
            }
        }
    }
    let mut rows = Vec::new();
    for via in Via::ALL {
        let allowed = p.prefs.channels_of(notice.kind.category()).contains(&via);
        if !allowed && !notice.kind.category().default_channels().contains(&via) {
            continue; // never asked for, never on by default: nothing to record
        }
        let addresses: Vec<Option<String>> = match via {
            Via::Email => vec![p.email.clone()],
            Via::Sms => vec![p.phone.clone()],
            Via::Push => {
                store::subscriptions_of(&state.db, &notice.recipient).await?.into_iter().map(|s| Some(s.id)).collect()
            }
            Via::InApp => vec![None],
        };
        for address in addresses {
            if via != Via::InApp && address.is_none() {
                continue; // no address on this channel
            }
            // The key names no address (an email or a phone number is personal): a push
            // subscription's id only, one message per browser.
            let sub = if via == Via::Push { address.as_deref().unwrap_or("") } else { "" };
            let dedup = format!("{event_id}:{}:{}:{sub}", notice.recipient, via.as_str());
            let (state_now, reason, due) = match rules::decide(notice.kind, via, &p.prefs, p.tz, now) {
                Decision::Suppressed(why) => ("suppressed", Some(why), now),
                Decision::SendAt(_) if !state.channels.has(via) => {
                    ("suppressed", Some(format!("no {} server is configured", via.as_str())), now)
                }
                Decision::SendAt(at) if via == Via::InApp => ("delivered", None, at),
                Decision::SendAt(at) => ("queued", None, at),
            };
            rows.push(NewMessage {
                id: new_id(),
                dedup,
                event_id: Some(event_id.to_owned()),
                recipient: notice.recipient.clone(),
                channel: via,
                template: notice.kind.template().to_owned(),
                lang: p.lang.clone(),
                address,
                vars: serde_json::to_value(&vars)?,
                secret: None,
                state: state_now,
                reason,
                due_ms: due,
            });
        }
    }
    let mut tx = state.db.begin().await?;
    let mut written = 0;
    for row in &rows {
        if store::insert(&mut tx, row, now).await? {
            written += 1;
            if row.channel == Via::InApp {
                let _ = state.inbox.send(row.recipient.clone());
            }
        }
    }
    tx.commit().await?;
    if written > 0 {
        state.wake.notify_one();
    }
    Ok(written)
}

fn parse_amount(s: &str) -> Option<i64> {
    let (major, minor) = s.split_once('.')?;
    let sign = if major.starts_with('-') { -1 } else { 1 };
    Some(sign * (major.trim_start_matches('-').parse::<i64>().ok()? * 100 + minor.parse::<i64>().ok()?))
}

/// Queues a security message: its token sealed at rest under the message's id, sent by email
/// whatever the person's preferences and quiet hours.
pub async fn enqueue_security(state: &NotifyState, m: SecurityMessage) -> Result<String> {
    let kind = match m.purpose {
        Purpose::EmailVerification => Kind::EmailVerification,
        Purpose::PasswordReset => Kind::PasswordReset,
        Purpose::NewSignIn => Kind::NewSignIn,
    };
    let id = new_id();
    let sealed = if m.token().is_empty() {
        None
    } else {
        Some(state.ring.seal(m.token(), &crate::infra::atrest::aad("notifications", "secret", &id))?)
    };
    let prefs = store::prefs(&state.db, &m.user_id).await?;
    let lang = prefs.lang.unwrap_or_else(|| state.config.notify.default_lang.clone());
    let mut vars: Vars = m.vars.clone();
    vars.insert("valid_hours".to_owned(), m.valid_secs.div_ceil(3600).to_string());
    if sealed.is_none() {
        let base = state.config.notify.public_url.trim_end_matches('/');
        vars.insert("link".to_owned(), format!("{base}/account/reset-password"));
    }
    let (row_state, reason) = if state.channels.has(Via::Email) {
        ("queued", None)
    } else {
        ("suppressed", Some("no email server is configured".to_owned()))
    };
    let row = NewMessage {
        dedup: format!("security:{id}"),
        id: id.clone(),
        event_id: None,
        recipient: m.user_id.clone(),
        channel: Via::Email,
        template: kind.template().into(),
        lang,
        address: Some(m.to.clone()),
        vars: serde_json::to_value(&vars)?,
        secret: sealed.filter(|_| row_state == "queued"),
        state: row_state,
        reason,
        due_ms: now_ms(),
    };
    let mut conn = state.db.pool.acquire().await?;
    store::insert(&mut conn, &row, now_ms()).await?;
    drop(conn);
    state.wake.notify_one();
    Ok(id)
}

/// What a message says, rendered now: its values, the person's name, a security message's token
/// and link, a marketing email's unsubscribe link.
pub async fn render(state: &NotifyState, m: &Message) -> std::result::Result<Outgoing, String> {
    let mut vars: Vars = serde_json::from_value(m.vars.clone()).map_err(|e| format!("the message's values: {e}"))?;
    let name = match crate::identity::store::load_user(&state.db.pool, &m.recipient).await {
        Ok(Some(u)) => u.name,
        _ => String::from("there"),
    };
    vars.entry("name".into()).or_insert(name);
    let base = state.config.notify.public_url.trim_end_matches('/');
    if let Some(sealed) = &m.secret {
        let token = state
            .ring
            .open(sealed, &crate::infra::atrest::aad("notifications", "secret", &m.id))
            .map_err(|_| "the sealed token cannot be opened".to_owned())?;
        let page = if m.template == Kind::PasswordReset.template() { "reset-password" } else { "verify-email" };
        vars.insert("link".into(), format!("{base}/account/{page}?token={token}"));
        vars.insert("token".into(), token);
    }
    let kind = Kind::of_template(&m.template);
    let unsubscribe = (kind.map(Kind::category) == Some(Category::Marketing) && m.channel == Via::Email)
        .then(|| super::unsubscribe_link(state, &m.recipient, Category::Marketing));
    let r = templates::render(&m.template, &m.lang, &vars, unsubscribe.as_deref()).map_err(|e| e.to_string())?;
    let to = match m.channel {
        Via::Push => {
            let id = m.address.clone().unwrap_or_default();
            match store::subscription(&state.db, &id).await {
                Ok(Some(s)) => s.doc,
                _ => return Err("the push subscription was removed".into()),
            }
        }
        _ => m.address.clone().unwrap_or_default(),
    };
    Ok(Outgoing {
        id: m.id.clone(),
        to,
        subject: r.subject,
        text: r.text,
        html: (m.channel == Via::Email).then_some(r.html),
        unsubscribe,
        link: vars.get("link").cloned(),
        template: m.template.clone(),
    })
}

/// Claims the due messages and sends them, up to `notify.parallel` at once; returns how many
/// were claimed.
pub async fn send_due(state: &NotifyState, limit: i64) -> Result<usize> {
    let due = store::claim_due(&state.db, now_ms(), LEASE_MS, limit).await?;
    let n = due.len();
    futures::stream::iter(due)
        .for_each_concurrent(state.config.notify.parallel, |m| async move {
            if let Err(e) = send_one(state, &m).await {
                tracing::warn!(notification.id = m.id, error = %e, "notify: recording a send failed");
            }
        })
        .await;
    Ok(n)
}

async fn send_one(state: &NotifyState, m: &Message) -> Result<()> {
    let now = now_ms();
    let out = match render(state, m).await {
        Ok(out) => out,
        Err(why) => {
            tracing::warn!(notification.id = m.id, template = m.template, reason = why, "notify: a dead letter");
            return store::settle(&state.db, &m.id, "failed", Some(&why), m.due_ms, now).await;
        }
    };
    let Some(channel) = state.channels.get(m.channel) else {
        return store::settle(&state.db, &m.id, "suppressed", Some("the channel is not configured"), m.due_ms, now)
            .await;
    };
    let sent = channel.send(&out).await;
    let now = now_ms();
    let attempts = u32::try_from(m.attempts + 1).unwrap_or(u32::MAX);
    match sent {
        Ok(()) => {
            tracing::info!(notification.id = m.id, channel = m.channel.as_str(), template = m.template, "notify: sent");
            store::settle(&state.db, &m.id, "sent", None, m.due_ms, now).await
        }
        Err(SendError::Gone(why)) => {
            if let Some(sub) = &m.address {
                store::remove_subscription(&state.db, sub, None).await?;
            }
            store::settle(&state.db, &m.id, "failed", Some(&format!("the subscription is gone: {why}")), m.due_ms, now)
                .await
        }
        Err(SendError::Refused(why)) => store::settle(&state.db, &m.id, "failed", Some(&why), m.due_ms, now).await,
        Err(SendError::Retry(why)) => {
            match rules::after_failure(attempts, state.config.notify.max_attempts, now, rand_unit()) {
                AfterFailure::RetryAt(at) => {
                    tracing::info!(notification.id = m.id, attempts, reason = why, "notify: will try again");
                    store::settle(&state.db, &m.id, "queued", Some(&why), at, now).await
                }
                AfterFailure::Dead => store::settle(&state.db, &m.id, "failed", Some(&why), m.due_ms, now).await,
            }
        }
    }
}

fn rand_unit() -> f64 {
    f64::from(uuid::Uuid::new_v4().as_bytes()[0]) / 255.0
}

/// A dead letter sent again (HQ's retry); an error when `id` is not one.
pub async fn retry(state: &NotifyState, id: &str) -> Result<()> {
    if !store::retry(&state.db, id, now_ms()).await? {
        return Err(Error::NotFound(format!("no failed notification {id}")));
    }
    state.wake.notify_one();
    Ok(())
}
