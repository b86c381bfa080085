//! The staff table: PIN digests, look-ups, adds and changes. Adds and changes are logged (HQ
//! sees them) and audited.

use super::error::StaffError;
use crate::audit;
use crate::infra::error::Result;
use crate::infra::events::{Event, SignInAlert};
use crate::infra::store::{Store, WriteCtx};
use patty_protocol::change::ChangeV1;
use patty_protocol::ids::StaffId;
use patty_protocol::staff::{Role, Staff};
use rusqlite::{Connection, OptionalExtension, params};

/// A PIN as stored: HMAC-SHA256 under the outlet's key.
pub fn pin_hash(key: &[u8], pin: &str) -> String {
    patty_service::secret::mac(key, pin.as_bytes())
}

/// A PIN as it was stored before HMAC (SHA-256 of the key and the PIN), still accepted and
/// rewritten at the next sign-in.
pub fn legacy_pin_hash(key: &[u8], pin: &str) -> String {
    patty_service::secret::digest(&[key, pin.as_bytes()])
}

/// Whether `pin` is taken at this outlet by someone other than `except`, in either stored form.
fn pin_taken(conn: &Connection, key: &[u8], pin: &str, except: Option<StaffId>) -> Result<bool> {
    let except = except.map(|id| id.to_string()).unwrap_or_default();
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM staff WHERE pin_hash IN (?1, ?2) AND id <> ?3)",
        params![pin_hash(key, pin), legacy_pin_hash(key, pin), except],
        |r| r.get(0),
    )?)
}

/// Checks a PIN's shape: 4 to 8 digits.
pub fn validate_pin(pin: &str) -> Result<(), StaffError> {
    if (4..=8).contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(StaffError::BadPin)
    }
}

fn staff_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Staff> {
    let id: String = r.get(0)?;
    let role: String = r.get(2)?;
    Ok(Staff {
        id: id
            .parse()
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))?,
        name: r.get(1)?,
        role: Role::parse(&role).unwrap_or(Role::Cashier),
        active: r.get(3)?,
    })
}

/// Inserts a staff member and logs it; the PIN must not be taken.
#[tracing::instrument(skip_all)]
pub fn insert_staff(
    ctx: &mut WriteCtx<'_>,
    key: &[u8],
    name: &str,
    role: Role,
    pin: &str,
) -> Result<Staff, StaffError> {
    validate_pin(pin)?;
    if patty_protocol::blank(name) || name.chars().count() > 100 {
        return Err(StaffError::BadName);
    }
    let hash = pin_hash(key, pin);
    if pin_taken(ctx.conn, key, pin, None)? {
        return Err(StaffError::PinTaken);
    }
    let staff = Staff { id: StaffId::new(), name: name.trim().to_owned(), role, active: true };
    ctx.conn.execute(
        "INSERT INTO staff (id, name, role, pin_hash, active) VALUES (?1, ?2, ?3, ?4, 1)",
        params![staff.id.to_string(), staff.name, role.as_str(), hash],
    )?;
    ctx.log(ChangeV1::StaffUpserted { staff: staff.clone() })?;
    Ok(staff)
}

/// Adds or changes a staff member as HQ sent them (name, role, active; PINs never travel). A new
/// member gets a PIN no digest can equal: they sign in once a manager sets one.
#[tracing::instrument(skip_all, fields(staff.id = %staff.id))]
pub fn upsert_from_cloud(conn: &Connection, staff: &Staff) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO staff (id, name, role, pin_hash, active) VALUES (?1, ?2, ?3, 'unset:' || ?1, ?4)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, role = excluded.role, active = excluded.active",
    )?
    .execute(params![staff.id.to_string(), staff.name, staff.role.as_str(), staff.active])?;
    Ok(())
}

/// The staff member whose PIN is `pin`, and whether it is still stored in the older form.
#[tracing::instrument(skip_all)]
pub fn find_by_pin(conn: &Connection, key: &[u8], pin: &str) -> Result<Option<(Staff, bool)>> {
    let find = |hash: &str| {
        conn.query_row("SELECT id, name, role, active FROM staff WHERE pin_hash = ?1", [hash], staff_row).optional()
    };
    if let Some(s) = find(&pin_hash(key, pin))? {
        return Ok(Some((s, false)));
    }
    Ok(find(&legacy_pin_hash(key, pin))?.map(|s| (s, true)))
}

/// Rewrites a PIN still stored in the older form as an HMAC, at its holder's sign-in.
#[tracing::instrument(skip_all, fields(staff.id = %id))]
pub async fn rehash_pin(store: &Store, key: std::sync::Arc<[u8]>, id: StaffId, pin: String) -> Result<()> {
    store
        .write(move |ctx| {
            ctx.conn.execute(
                "UPDATE staff SET pin_hash = ?2 WHERE id = ?1",
                params![id.to_string(), pin_hash(&key, &pin)],
            )?;
            Ok(())
        })
        .await
}

/// Records a terminal's lock: an audit entry (by nobody: no one is signed in) and a
/// `sign_in_alert` on the live alert stream, stamped with the write's time.
#[tracing::instrument(skip_all, fields(terminal = %alert.terminal))]
pub async fn record_lock(store: &Store, alert: SignInAlert) -> Result<()> {
    store
        .write(move |ctx| {
            let detail = format!("{} wrong PINs; locked for {} s", alert.failures, alert.locked_secs);
            audit::record(ctx, audit::NOBODY, "sign_in_locked", &alert.terminal, &detail)?;
            let at_ms = ctx.now_ms;
            ctx.emit(Event::SignInAlert { alert: SignInAlert { at_ms, ..alert } });
            Ok(())
        })
        .await
}

/// Every staff member, by name.
#[tracing::instrument(skip_all)]
pub fn list(c: &Connection) -> Result<Vec<Staff>> {
    let mut st = c.prepare("SELECT id, name, role, active FROM staff ORDER BY name")?;
    let rows = st.query_map([], staff_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Adds a staff member for manager `by` and audits it.
#[tracing::instrument(skip_all, fields(staff.id = %by))]
pub async fn add(
    store: &Store,
    key: std::sync::Arc<[u8]>,
    by: StaffId,
    name: String,
    role: Role,
    pin: String,
) -> Result<Staff> {
    store
        .write(move |ctx| {
            let staff = insert_staff(ctx, &key, &name, role, &pin)?;
            audit::record(
                ctx,
                by,
                "staff_added",
                &staff.id.to_string(),
                &format!("{} as {}", staff.name, staff.role.as_str()),
            )?;
            Ok(staff)
        })
        .await
}

/// A change to a member: a new role, active or not, a new PIN.
pub struct Change {
    /// New role.
    pub role: Option<Role>,
    /// Deactivate (false) or reactivate (true).
    pub active: Option<bool>,
    /// A new PIN.
    pub pin: Option<String>,
}

/// Changes member `id` for manager `by` (audited): the member after, and whether their role or
/// active flag changed (then their open sessions must end).
#[tracing::instrument(skip_all, fields(staff.id = %id))]
pub async fn change(
    store: &Store,
    key: std::sync::Arc<[u8]>,
    by: StaffId,
    id: StaffId,
    req: Change,
) -> Result<(Staff, bool)> {
    store
        .write(move |ctx| {
            let mut staff = ctx
                .conn
                .query_row("SELECT id, name, role, active FROM staff WHERE id = ?1", [id.to_string()], staff_row)
                .optional()?
                .ok_or(StaffError::NotFound)?;
            if id == by && (req.active == Some(false) || req.role.is_some_and(|r| r != Role::Manager)) {
                return Err(StaffError::SelfDemotion.into());
            }
            let before = (staff.role, staff.active);
            staff.role = req.role.unwrap_or(staff.role);
            staff.active = req.active.unwrap_or(staff.active);
            let changed = before != (staff.role, staff.active);
            ctx.conn.execute(
                "UPDATE staff SET role = ?2, active = ?3 WHERE id = ?1",
                params![id.to_string(), staff.role.as_str(), staff.active],
            )?;
            if let Some(pin) = &req.pin {
                validate_pin(pin)?;
                let hash = pin_hash(&key, pin);
                if pin_taken(ctx.conn, &key, pin, Some(id))? {
                    return Err(StaffError::PinTaken.into());
                }
                ctx.conn.execute("UPDATE staff SET pin_hash = ?2 WHERE id = ?1", params![id.to_string(), hash])?;
                audit::record(ctx, by, "pin_set", &id.to_string(), &staff.name)?;
            }
            ctx.log(ChangeV1::StaffUpserted { staff: staff.clone() })?;
            audit::record(
                ctx,
                by,
                "staff_changed",
                &id.to_string(),
                &format!("role {} active {}", staff.role.as_str(), staff.active),
            )?;
            Ok((staff, changed))
        })
        .await
}
