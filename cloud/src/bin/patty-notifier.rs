//! `patty-notifier`: the notifier on its own, beside the cloud (`notify.embedded = false`) on the
//! same database, scaled on its own: every replica follows the same event log and none sends a
//! message twice.

use anyhow::Context;
use clap::Parser;
use patty_cloud::infra::config::Config;

/// Sends the chain's notifications (email, web push, SMS, the in-app inbox) from the event log.
#[derive(Parser)]
#[command(name = "patty-notifier", version)]
struct Args {
    #[command(flatten)]
    common: patty_service::run::ServiceArgs,
    /// PostgreSQL URL (postgres://…); without it, SQLite in the data directory.
    #[arg(long)]
    database_url: Option<String>,
}

fn main() {
    patty_service::run::init_tracing();
    if let Err(e) = start() {
        patty_service::run::exit_with_error("patty-notifier", format!("{e:#}"));
    }
}

#[tokio::main]
async fn start() -> anyhow::Result<()> {
    let args: Args = patty_service::run::parse_args("patty-notifier");
    let mut config = Config::load(args.common.config.as_deref(), std::env::vars()).context("configuration")?;
    args.common.apply(&mut config.listen, &mut config.data_dir, &mut config.tls);
    if let Some(url) = args.database_url {
        config.database.url = url;
    }
    config.validate().context("configuration")?;
    let listener =
        tokio::net::TcpListener::bind(config.listen).await.with_context(|| format!("listen on {}", config.listen))?;
    patty_cloud::app::run_notifier(config, listener, patty_service::run::shutdown_signal()).await?;
    Ok(())
}
