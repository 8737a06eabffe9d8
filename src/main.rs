//! The Flack server binary: settings, then the server, then wait for
//! Ctrl-C or SIGTERM and shut down gracefully. `flack backup FILE` copies
//! the database instead, while a server may be running on it.

/// Stack of each runtime thread. Server rendering walks a deep tree of
/// view types; a debug build's frames are large enough to overflow the
/// default 2 MiB on a channel page (a release build needs far less).
#[cfg(feature = "ssr")]
const THREAD_STACK_BYTES: usize = 16 << 20;

#[cfg(feature = "ssr")]
fn main() -> std::process::ExitCode {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(THREAD_STACK_BYTES)
        .build()
    {
        Ok(runtime) => runtime.block_on(run()),
        Err(err) => {
            eprintln!("cannot start the async runtime: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(feature = "ssr")]
async fn run() -> std::process::ExitCode {
    use clap::Parser;
    use flack::host::Server;
    use flack::server::settings::{Args, Command, Settings};
    use std::process::ExitCode;

    let args = Args::parse();
    // The logger is set up from the settings, so until they are resolved
    // a failure can only be said on standard error.
    let mut leptos_options = match leptos::prelude::get_configuration(None) {
        Ok(conf) => conf.leptos_options,
        Err(err) => {
            eprintln!("flack: cannot read the Leptos configuration: {err}");
            return ExitCode::FAILURE;
        }
    };
    // Set when cargo-leptos builds the binary; a plain `cargo build` has none.
    if leptos_options.output_name.is_empty() {
        leptos_options.output_name = env!("CARGO_CRATE_NAME").into();
    }
    let settings = match Settings::resolve(&args, leptos_options.site_addr) {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("flack: bad settings: {err}");
            return ExitCode::FAILURE;
        }
    };
    flack::server::logs::init(settings.log_format);

    if let Some(Command::Backup { file }) = &args.command {
        let from = std::path::Path::new(&settings.database);
        return match flack::server::store::backup(from, file) {
            Ok(()) => {
                tracing::info!(from = %from.display(), to = %file.display(), "backup written");
                ExitCode::SUCCESS
            }
            Err(err) => {
                tracing::error!(cause = %err, "backup failed");
                ExitCode::FAILURE
            }
        };
    }
    let addr_file = settings.addr_file.clone();
    let server = match Server::bind(settings, leptos_options).await {
        Ok(server) => server,
        Err(err) => {
            tracing::error!(cause = %err, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(addr = %server.addr, "Flack is listening on http://{}", server.addr);
    if !addr_file.is_empty() {
        // Written whole, then renamed: a reader never sees half of it.
        let partial = format!("{addr_file}.partial");
        let written = std::fs::write(&partial, server.addr.to_string())
            .and_then(|()| std::fs::rename(&partial, &addr_file));
        if let Err(err) = written {
            tracing::error!(cause = %err, file = %addr_file, "cannot write the address file");
            server.shutdown().await;
            return ExitCode::FAILURE;
        }
    }
    shutdown_signal().await;
    tracing::info!("shutting down");
    server.shutdown().await;
    ExitCode::SUCCESS
}

/// Resolves on Ctrl-C or SIGTERM.
#[cfg(feature = "ssr")]
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(cause = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(err) => {
                tracing::error!(cause = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}

#[cfg(not(feature = "ssr"))]
pub fn main() {
    // The browser side starts from `flack::hydrate`; this binary is the
    // server and needs the `ssr` feature.
}
