//! Staff: PIN sign-in that yields a short-lived session token, roles, and the staff list.
//!
//! PINs are stored as HMAC-SHA256 under a per-outlet secret key (in the data directory, never in
//! the database), so a copied database alone does not reveal them and a PIN is found by one
//! indexed lookup; a PIN still stored in the older form (SHA-256 of the key and the PIN) is
//! rewritten at its holder's next sign-in. PINs are unique per outlet: the PIN alone identifies
//! who signs in, as on a restaurant POS, so a wrong guess can match anyone's PIN.
//!
//! Guessing is held back per terminal (the client's address), not per outlet, so one terminal
//! cannot keep every till signed out: a terminal's fifth wrong PIN locks it for
//! `session.pin_lock_secs` (429 with `Retry-After`), and each further wrong PIN doubles the lock,
//! up to an hour. A terminal's count is forgotten only after an hour with no wrong PIN (a right PIN
//! does not reset it, so a staff member cannot interleave their own PIN to keep guessing a
//! manager's). Every lock writes an audit entry and raises a `sign_in_alert` on the live alert
//! stream, where a manager sees it. With the defaults a terminal gets about a dozen guesses an
//! hour: against 20 staff among 10,000 four-digit PINs, years to find one.
//!
//! The session table and the wrong-PIN locks live in [`crate::infra::session`].
//!
//! - `http.rs`: sign-in, sign-out and the staff list's handlers, no SQL; the only place a
//!   [`StaffError`] meets HTTP.
//! - [`store`]: the staff table: PIN digests, look-ups, adds and changes (audited).
//! - `error.rs`: [`StaffError`].
//!
//! May use: `infra`, [`crate::audit`]. Used by `sync` (staff HQ sends) and `app` (the seed).

mod error;
mod http;
pub mod store;

use crate::infra::state::AppState;
use utoipa_axum::router::OpenApiRouter;

pub use error::StaffError;
pub use http::{NewStaff, SessionOut, SignIn, StaffPatch};
pub use store::{insert_staff, legacy_pin_hash, pin_hash, upsert_from_cloud, validate_pin};

/// The staff routes.
pub fn router() -> OpenApiRouter<AppState> {
    http::router()
}
