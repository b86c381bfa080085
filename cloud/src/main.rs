//! `patty-cloud`: the cloud core.

use anyhow::Context;
use clap::Parser;
use patty_cloud::infra::config::Config;

/// Catalog, outlets, identity, customers and online ordering for the whole chain.
#[derive(Parser)]
#[command(name = "patty-cloud", version)]
struct Args {
    #[command(flatten)]
    common: patty_service::run::ServiceArgs,
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
    let mut config = Config::load(args.common.config.as_deref(), std::env::vars()).context("configuration")?;
    args.common.apply(&mut config.listen, &mut config.data_dir, &mut config.tls);
    if let Some(url) = args.database_url {
        config.database.url = url;
    }
    if let Some(brokers) = args.kafka_brokers {
        config.kafka.brokers = brokers;
    }
    config.validate().context("configuration")?;
    let listener =
        tokio::net::TcpListener::bind(config.listen).await.with_context(|| format!("listen on {}", config.listen))?;
    patty_cloud::run(config, listener, patty_service::run::shutdown_signal()).await?;
    Ok(())
}
