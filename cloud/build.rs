//! Rebuilds the crate when a migration changes: `sqlx::migrate!` embeds the migrations folders at
//! compile time, and a new or edited file alone would not trigger a rebuild.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
