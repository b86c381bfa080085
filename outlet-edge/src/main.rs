//! `patty-edge`: the outlet edge node.

use anyhow::Context;
use clap::Parser;
use patty_edge::config::Config;

/// The outlet's own server: orders, kitchen, stock and staff, with no internet needed.
#[derive(Parser)]
#[command(name = "patty-edge", version)]
struct Args {
    #[command(flatten)]
    common: patty_service::run::ServiceArgs,
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
    let mut config = Config::load(args.common.config.as_deref(), std::env::vars()).context("configuration")?;
    args.common.apply(&mut config.listen, &mut config.data_dir, &mut config.tls);
    config.validate().context("configuration")?;
    let listener =
        tokio::net::TcpListener::bind(config.listen).await.with_context(|| format!("listen on {}", config.listen))?;
    patty_edge::run(config, listener, patty_service::run::shutdown_signal()).await?;
    Ok(())
}
