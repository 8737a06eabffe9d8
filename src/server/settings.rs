//! Run-time settings. Each one comes, first match wins, from a command-line
//! flag, an environment variable (`FLACK_...`), the `[server]` table of
//! `Leptos.toml`, or its default. `flack --help` lists them all.
//!
//! Every setting is declared once, in the [`settings!`] list below, which
//! makes the flag, the file key, the field and the default from it.

use super::proxy::TrustedProxies;
use crate::model::DEFAULT_MAX_CHANNELS;
use clap::{Parser, Subcommand};
use serde::Deserialize;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// What the binary does besides serving.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Copies the database to FILE, consistently, while the server runs
    /// (SQLite's online backup). To restore, stop the server and put the
    /// copy in the database's place.
    Backup {
        /// The new file to write; it must not exist.
        file: PathBuf,
    },
}

macro_rules! settings {
    ($( $(#[doc = $doc:literal])* $name:ident : $ty:ty = $default:expr, $env:literal; )*) => {
        /// Command line and environment.
        #[derive(Debug, Parser)]
        #[command(name = "flack", version, about = "Flack: a self-hosted chat in one binary")]
        pub struct Args {
            #[command(subcommand)]
            pub command: Option<Command>,
            /// The settings file; a missing file is fine, a broken one is an error.
            #[arg(long, env = "FLACK_CONFIG", default_value = "Leptos.toml", global = true)]
            pub config: PathBuf,
            $( $(#[doc = $doc])* #[arg(long, env = $env, global = true)] pub $name: Option<$ty>, )*
        }

        /// The `[server]` table of the settings file.
        #[derive(Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct FileSettings {
            $( $name: Option<$ty>, )*
        }

        /// The settings the server runs with.
        #[derive(Debug, Clone)]
        pub struct Settings {
            $( $(#[doc = $doc])* pub $name: $ty, )*
        }

        impl Default for Settings {
            fn default() -> Self {
                Settings { $( $name: $default, )* }
            }
        }

        impl Settings {
            /// Each setting from the first layer that has it.
            fn layered(args: &Args, file: FileSettings) -> Settings {
                let default = Settings::default();
                Settings { $( $name: args.$name.clone().or(file.$name).unwrap_or(default.$name), )* }
            }
        }
    };
}

settings! {
    /// Address and port to listen on [file: addr; default: 127.0.0.1:3000,
    /// or LEPTOS_SITE_ADDR when run by cargo-leptos].
    addr: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 3000)), "FLACK_ADDR";
    /// A file the address actually listened on is written to once
    /// connections are accepted: how a supervisor or a test that starts
    /// the server on port 0 learns the port the system chose [file:
    /// addr_file; default: none].
    addr_file: String = String::new(), "FLACK_ADDR_FILE";
    /// The SQLite file that holds channels, messages and identities;
    /// `:memory:` keeps nothing [file: database; default: flack.db].
    database: String = "flack.db".into(), "FLACK_DATABASE";
    /// Days of history kept behind each channel's last 100 messages; 0
    /// keeps everything [file: history_days; default: 0].
    history_days: u32 = 0, "FLACK_HISTORY_DAYS";
    /// Days after which an identity nobody used is removed and its name
    /// freed; 0 keeps them [file: identity_days; default: 90].
    identity_days: u32 = 90, "FLACK_IDENTITY_DAYS";
    /// Most identities the server holds [file: max_identities; default: 100000].
    max_identities: usize = 100_000, "FLACK_MAX_IDENTITIES";
    /// Most channels the server holds [file: max_channels; default: 1000].
    max_channels: usize = DEFAULT_MAX_CHANNELS, "FLACK_MAX_CHANNELS";
    /// Events buffered per channel for a slow connection before it is
    /// resynchronised [file: fanout_capacity; default: 256].
    fanout_capacity: usize = 256, "FLACK_FANOUT_CAPACITY";
    /// Mark the identity cookie `Secure` (serve over HTTPS when set)
    /// [file: secure_cookie; default: false].
    secure_cookie: bool = false, "FLACK_SECURE_COOKIE";
    /// Seconds a WebSocket may stay silent before it is closed; it is
    /// pinged every third of that, so a link that died without a word is
    /// noticed within 27 s (the browser, which pings too, within 21 s)
    /// [file: idle_timeout_secs; default: 20].
    idle_timeout_secs: u64 = 20, "FLACK_IDLE_TIMEOUT_SECS";
    /// Sends a connection may make at once before the rate applies
    /// [file: send_burst; default: 10].
    send_burst: u32 = 10, "FLACK_SEND_BURST";
    /// Sends per second a connection may sustain; 0 turns the limit off
    /// [file: send_per_second; default: 5].
    send_per_second: u32 = 5, "FLACK_SEND_PER_SECOND";
    /// Channels one identity may create per minute; 0 turns the limit off
    /// [file: channels_per_minute; default: 10].
    channels_per_minute: u32 = 10, "FLACK_CHANNELS_PER_MINUTE";
    /// Names (new identities or renames) one IP address may claim per
    /// hour; 0 turns the limit off [file: claims_per_hour; default: 20].
    claims_per_hour: u32 = 20, "FLACK_CLAIMS_PER_HOUR";
    /// Open WebSocket connections per IP address; 0 turns the limit off
    /// [file: connections_per_ip; default: 64].
    connections_per_ip: usize = 64, "FLACK_CONNECTIONS_PER_IP";
    /// Reverse proxies in front of Flack, comma-separated addresses or
    /// blocks (`127.0.0.1,10.0.0.0/8`): from them, the client's address
    /// for the per-address limits is read from `X-Forwarded-For`; from
    /// anyone else that header is ignored [file: trusted_proxies; default:
    /// none].
    trusted_proxies: TrustedProxies = TrustedProxies::default(), "FLACK_TRUSTED_PROXIES";
    /// How log lines are written: `text` (coloured only on a terminal)
    /// or `json`, one object a line, for a log collector [file:
    /// log_format; default: text].
    log_format: LogFormat = LogFormat::Text, "FLACK_LOG_FORMAT";
    /// Address and port of a second listener that serves Prometheus
    /// metrics at `/metrics` (`127.0.0.1:9100`), kept off the public
    /// address; empty serves none [file: metrics_addr; default: none].
    metrics_addr: String = String::new(), "FLACK_METRICS_ADDR";
}

/// How log lines are written (the `log_format` setting).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum LogFormat {
    /// Human-readable lines; colours only when standard output is a
    /// terminal, so a file or journald gets no escape sequences.
    #[default]
    Text,
    /// One JSON object a line, for log collectors.
    Json,
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!(
                "log_format: \u{201c}{other}\u{201d} is not a log format; use text or json"
            )),
        }
    }
}

impl TryFrom<String> for LogFormat {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        text.parse()
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        })
    }
}

#[derive(Debug, Default, Deserialize)]
struct SettingsFile {
    #[serde(default)]
    server: FileSettings,
}

impl Settings {
    /// Resolves every setting; `fallback_addr` is the address cargo-leptos
    /// configured, used when nothing else names one.
    pub fn resolve(args: &Args, fallback_addr: SocketAddr) -> Result<Self, String> {
        let file = read_file(&args.config)?;
        let addr_named = args.addr.is_some() || file.addr.is_some();
        let mut settings = Settings::layered(args, file);
        if !addr_named {
            settings.addr = fallback_addr;
        }
        if settings.fanout_capacity == 0 || settings.max_channels == 0 {
            return Err("max_channels and fanout_capacity must be at least 1".into());
        }
        if settings.idle_timeout_secs < 3 {
            return Err("idle_timeout_secs must be at least 3".into());
        }
        settings.metrics_socket()?;
        Ok(settings)
    }

    /// The address metrics are served on, if any: `metrics_addr` read as
    /// an address and port. Checked by [`Settings::resolve`], and again
    /// by the server, whose settings may have been made in code.
    pub(crate) fn metrics_socket(&self) -> Result<Option<SocketAddr>, String> {
        let text = self.metrics_addr.trim();
        if text.is_empty() {
            return Ok(None);
        }
        text.parse().map(Some).map_err(|_| {
            format!(
                "metrics_addr: \u{201c}{text}\u{201d} is not an address and port such as \
                 127.0.0.1:9100 (leave it empty to serve no metrics)"
            )
        })
    }
}

fn read_file(path: &Path) -> Result<FileSettings, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => toml::from_str::<SettingsFile>(&text)
            .map(|f| f.server)
            .map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(FileSettings::default()),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str], config: &Path) -> Args {
        let mut argv = vec!["flack", "--config", config.to_str().unwrap()];
        argv.extend_from_slice(extra);
        Args::try_parse_from(argv).unwrap()
    }

    #[test]
    fn flags_beat_the_file_and_the_file_beats_defaults() {
        let dir = std::env::temp_dir().join(format!("flack-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("Leptos.toml");
        std::fs::write(
            &path,
            "[server]\naddr = \"0.0.0.0:8080\"\nmax_channels = 5\n",
        )
        .unwrap();
        let fallback: SocketAddr = "127.0.0.1:3000".parse().unwrap();

        let s = Settings::resolve(&args(&[], &path), fallback).unwrap();
        assert_eq!(s.addr.to_string(), "0.0.0.0:8080");
        assert_eq!(s.max_channels, 5);
        assert_eq!(s.fanout_capacity, 256);

        let s = Settings::resolve(&args(&["--max-channels", "9"], &path), fallback).unwrap();
        assert_eq!(s.max_channels, 9);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn trusted_proxies_are_read_from_the_file_and_the_flag_and_bad_ones_refused() {
        let path = std::env::temp_dir().join(format!("flack-proxies-{}.toml", std::process::id()));
        let fallback: SocketAddr = "127.0.0.1:3000".parse().unwrap();
        assert!(Settings::default().trusted_proxies.is_empty());

        std::fs::write(
            &path,
            "[server]\ntrusted_proxies = \"127.0.0.1, 10.0.0.0/8\"\n",
        )
        .unwrap();
        let s = Settings::resolve(&args(&[], &path), fallback).unwrap();
        assert_eq!(s.trusted_proxies.to_string(), "127.0.0.1/32, 10.0.0.0/8");
        let s = Settings::resolve(&args(&["--trusted-proxies", "::1"], &path), fallback).unwrap();
        assert_eq!(s.trusted_proxies.to_string(), "::1/128");

        std::fs::write(&path, "[server]\ntrusted_proxies = \"nginx\"\n").unwrap();
        let err = Settings::resolve(&args(&[], &path), fallback).unwrap_err();
        assert!(
            err.contains("\u{201c}nginx\u{201d} is not an IP address"),
            "{err}"
        );
        std::fs::remove_file(&path).unwrap();
        let argv = ["flack", "--trusted-proxies", "10.0.0.0/99"];
        assert!(Args::try_parse_from(argv).is_err());
    }

    #[test]
    fn log_format_is_read_from_the_file_and_the_flag_and_a_bad_one_refused() {
        let path = std::env::temp_dir().join(format!("flack-logs-{}.toml", std::process::id()));
        let fallback: SocketAddr = "127.0.0.1:3000".parse().unwrap();
        assert_eq!(Settings::default().log_format, LogFormat::Text);

        std::fs::write(&path, "[server]\nlog_format = \"json\"\n").unwrap();
        let s = Settings::resolve(&args(&[], &path), fallback).unwrap();
        assert_eq!(s.log_format, LogFormat::Json);
        let s = Settings::resolve(&args(&["--log-format", "text"], &path), fallback).unwrap();
        assert_eq!(s.log_format, LogFormat::Text);

        std::fs::write(&path, "[server]\nlog_format = \"xml\"\n").unwrap();
        let err = Settings::resolve(&args(&[], &path), fallback).unwrap_err();
        assert!(
            err.contains("\u{201c}xml\u{201d} is not a log format; use text or json"),
            "{err}"
        );
        std::fs::remove_file(&path).unwrap();
        let err = Args::try_parse_from(["flack", "--log-format", "xml"]).unwrap_err();
        assert!(err.to_string().contains("is not a log format"), "{err}");
        let s = Settings::resolve(
            &args(
                &["--log-format", "json"],
                Path::new("/nonexistent/Leptos.toml"),
            ),
            fallback,
        )
        .unwrap();
        assert_eq!(s.log_format, LogFormat::Json);
    }

    #[test]
    fn metrics_are_off_by_default_and_a_bad_address_is_refused() {
        let fallback: SocketAddr = "127.0.0.1:3000".parse().unwrap();
        let none = Path::new("/nonexistent/Leptos.toml");
        let s = Settings::resolve(&args(&[], none), fallback).unwrap();
        assert_eq!(s.metrics_socket(), Ok(None));

        let s = Settings::resolve(&args(&["--metrics-addr", "127.0.0.1:9100"], none), fallback)
            .unwrap();
        assert_eq!(
            s.metrics_socket(),
            Ok(Some("127.0.0.1:9100".parse().unwrap()))
        );

        let err =
            Settings::resolve(&args(&["--metrics-addr", "localhost"], none), fallback).unwrap_err();
        assert!(
            err.contains("\u{201c}localhost\u{201d} is not an address"),
            "{err}"
        );
    }

    #[test]
    fn the_shipped_settings_file_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("Leptos.toml");
        let fallback: SocketAddr = "127.0.0.1:3000".parse().unwrap();
        let s = Settings::resolve(&args(&[], &path), fallback).unwrap();
        assert_eq!(s.log_format, LogFormat::Text);
        assert_eq!(s.metrics_socket(), Ok(None), "metrics are off as shipped");
    }

    #[test]
    fn a_missing_file_means_defaults_and_a_broken_one_is_an_error() {
        let fallback: SocketAddr = "127.0.0.1:3000".parse().unwrap();
        let s =
            Settings::resolve(&args(&[], Path::new("/nonexistent/Leptos.toml")), fallback).unwrap();
        assert_eq!(s.addr, fallback);

        let path = std::env::temp_dir().join(format!("flack-bad-{}.toml", std::process::id()));
        std::fs::write(&path, "[server]\nmax_chanels = 5\n").unwrap();
        assert!(Settings::resolve(&args(&[], &path), fallback).is_err());
        std::fs::remove_file(&path).unwrap();
    }
}
