//! `patty-demo`: a whole chain, live, in one process.

use patty_demo::Options;

fn main() {
    // The summary goes to stdout; stderr carries warnings only, unless RUST_LOG asks for more. An
    // edge whose link is cut, and a phone whose broker is away, say so once a try: the summary
    // line already shows it. The embedded broker logs every phone that hangs up as an error.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new("warn,patty_edge::sync=error,patty_driver::link=error,rumqttd=off")
        }))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let opts: Options = patty_service::run::parse_args("patty-demo");
    if let Err(e) = opts.validate() {
        patty_service::run::exit_with_error("patty-demo", e);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => patty_service::run::exit_with_error("patty-demo", format!("starting the runtime: {e}")),
    };
    let result = runtime.block_on(patty_demo::run(opts, patty_service::run::shutdown_signal()));
    // Whatever was left behind (a part that did not stop in time) ends here.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    if let Err(e) = result {
        patty_service::run::exit_with_error("patty-demo", format!("{e:#}"));
    }
}
