//! The edge's error type is the services' shared one (`patty_service::error`): domain code returns
//! it and HTTP renders it as the JSON error body. The extractors (`Json`, `Query`, `Path`) answer
//! bad requests with the same body.

pub use patty_service::error::{Error, Result};
pub use patty_service::http::{Json, Path, Query};
