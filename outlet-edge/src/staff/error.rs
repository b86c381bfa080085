//! What can go wrong with a staff member, in the staff room's terms; only `http` turns it into a
//! status.

use crate::infra::error::Error;

/// A staff change refused, or the store under it failing.
#[derive(Debug, thiserror::Error)]
pub enum StaffError {
    /// A PIN of the wrong shape.
    #[error("a PIN is 4 to 8 digits")]
    BadPin,
    /// A blank or overlong name.
    #[error("a staff name is 1 to 100 characters")]
    BadName,
    /// Another member holds this PIN (the PIN alone says who signs in).
    #[error("that PIN is already in use at this outlet")]
    PinTaken,
    /// No member with this id.
    #[error("no such staff member")]
    NotFound,
    /// A manager may not lock themselves out of managing.
    #[error("a manager cannot demote or deactivate themselves")]
    SelfDemotion,
    /// The store, or another room, failed.
    #[error(transparent)]
    Other(#[from] Error),
}

impl From<rusqlite::Error> for StaffError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Other(e.into())
    }
}
