//! What every binary does at start and stop: tracing to stderr, and SIGINT/SIGTERM as shutdown.

/// Installs the tracing subscriber: `RUST_LOG`, or `info` by default; colour only on a terminal.
pub fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,tower_http=warn")))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}

/// Parses the command line; `--help` and `--version` print as usual, and any error is one line on
/// stderr with exit code 2.
pub fn parse_args<T: clap::Parser>(name: &str) -> T {
    match T::try_parse() {
        Ok(args) => args,
        Err(e) if matches!(e.kind(), clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion) => {
            e.exit()
        }
        Err(e) => {
            // clap's first paragraph, whose indented lines name what is missing, on one line.
            let text = e.to_string();
            let first: Vec<&str> = text.lines().take_while(|l| !l.trim().is_empty()).map(str::trim).collect();
            let first = first.join(" ");
            let first = first.trim_start_matches("error: ");
            eprintln!("{name}: {} (see --help)", if first.is_empty() { "invalid arguments" } else { first });
            std::process::exit(2);
        }
    }
}

/// Reports a fatal error as one line on stderr (whatever newlines the message holds) and exits 1.
pub fn exit_with_error(name: &str, err: impl std::fmt::Display) -> ! {
    let text = err.to_string();
    eprintln!("{name}: {}", text.split_whitespace().collect::<Vec<_>>().join(" "));
    std::process::exit(1);
}

/// The flags every service binary takes (`#[command(flatten)]` into its own `Args`).
#[derive(clap::Args, Debug)]
pub struct ServiceArgs {
    /// Address to listen on (overrides `listen` in the config; see the README for the default).
    #[arg(long)]
    pub listen: Option<std::net::SocketAddr>,
    /// Directory for the service's data and keys; created if missing.
    #[arg(long)]
    pub data_dir: Option<std::path::PathBuf>,
    /// TOML configuration file; PATTY_SECTION__KEY environment variables override it.
    #[arg(long)]
    pub config: Option<std::path::PathBuf>,
    /// Serve HTTPS with this PEM certificate chain (overrides `tls.cert`); needs `--tls-key`.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// The PEM private key of `--tls-cert` (overrides `tls.key`).
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
}

impl ServiceArgs {
    /// Lays the flags given over the configuration's `listen`, `data_dir` and `tls`.
    pub fn apply(
        self,
        listen: &mut std::net::SocketAddr,
        data_dir: &mut std::path::PathBuf,
        tls: &mut crate::tls::TlsFiles,
    ) {
        if let Some(l) = self.listen {
            *listen = l;
        }
        if let Some(d) = self.data_dir {
            *data_dir = d;
        }
        if let (Some(cert), Some(key)) = (self.tls_cert, self.tls_key) {
            *tls = crate::tls::TlsFiles { cert: Some(cert), key: Some(key) };
        }
    }
}
