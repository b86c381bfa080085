//! `patty-cloud`: the cloud core.

use anyhow::Context;
use clap::Parser;
use patty_cloud::config::Config;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Catalog, outlets, identity, customers and online ordering for the whole chain.
#[derive(Parser)]
#[command(name = "patty-cloud", version)]
struct Args {
    /// Address to listen on (default 127.0.0.1:8080).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Directory for the embedded database and keys; created if missing (default data/cloud).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// TOML configuration file; PATTY_SECTION__KEY environment variables override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// PostgreSQL URL (postgres://…); without it, SQLite in the data directory.
    #[arg(long)]
    database_url: Option<String>,
    /// Kafka bootstrap servers; without them, Kafka is off and the outbox is read over HTTP.
    #[arg(long)]
    kafka_brokers: Option<String>,
}

fn main() {
    patty_service::run::init_tracing();
    if let Err(e) = start() {
        patty_service::run::exit_with_error("patty-cloud", format!("{e:#}"));
    }
}

#[tokio::main]
async fn start() -> anyhow::Result<()> {
    let args: Args = patty_service::run::parse_args("patty-cloud");
    let mut config = Config::load(args.config.as_deref(), std::env::vars()).context("configuration")?;
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(dir) = args.data_dir {
        config.data_dir = dir;
    }
    if let Some(url) = args.database_url {
        config.database.url = url;
    }
    if let Some(brokers) = args.kafka_brokers {
        config.kafka.brokers = brokers;
    }
    config.validate().context("configuration")?;
    let listener =
        tokio::net::TcpListener::bind(config.listen).await.with_context(|| format!("listen on {}", config.listen))?;
    patty_cloud::run(config, listener, patty_service::run::shutdown_signal()).await.context("patty-cloud")?;
    Ok(())
}
