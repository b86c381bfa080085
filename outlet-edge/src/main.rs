//! `patty-edge`: the outlet edge node.

use anyhow::Context;
use clap::Parser;
use patty_edge::config::Config;
use std::net::SocketAddr;
use std::path::PathBuf;

/// The outlet's own server: orders, kitchen, stock and staff, with no internet needed.
#[derive(Parser)]
#[command(name = "patty-edge", version)]
struct Args {
    /// Address to listen on (default 127.0.0.1:8480).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Directory for the database and keys; created if missing (default data/edge).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// TOML configuration file; PATTY_SECTION__KEY environment variables override it.
    #[arg(long)]
    config: Option<PathBuf>,
}

fn main() {
    patty_service::run::init_tracing();
    if let Err(e) = start() {
        patty_service::run::exit_with_error("patty-edge", format!("{e:#}"));
    }
}

#[tokio::main]
async fn start() -> anyhow::Result<()> {
    let args: Args = patty_service::run::parse_args("patty-edge");
    let mut config = Config::load(args.config.as_deref(), std::env::vars()).context("configuration")?;
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(dir) = args.data_dir {
        config.data_dir = dir;
    }
    config.validate().context("configuration")?;
    let listener =
        tokio::net::TcpListener::bind(config.listen).await.with_context(|| format!("listen on {}", config.listen))?;
    patty_edge::run(config, listener, patty_service::run::shutdown_signal()).await.context("patty-edge")?;
    Ok(())
}
