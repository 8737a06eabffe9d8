//! Run-time settings. Each one comes, first match wins, from a command-line
//! flag, an environment variable (`FLACK_...`), the `[server]` table of
//! `Leptos.toml`, or its default. `flack --help` lists them all.

use crate::model::DEFAULT_MAX_CHANNELS;
use clap::Parser;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Command line and environment.
#[derive(Debug, Parser)]
#[command(
    name = "flack",
    version,
    about = "Flack: a self-hosted chat in one binary"
)]
pub struct Args {
    /// The settings file; a missing file is fine, a broken one is an error.
    #[arg(long, env = "FLACK_CONFIG", default_value = "Leptos.toml")]
    pub config: PathBuf,
    /// Address and port to listen on [file: addr; default: 127.0.0.1:3000,
    /// or LEPTOS_SITE_ADDR when run by cargo-leptos].
    #[arg(long, env = "FLACK_ADDR")]
    pub addr: Option<SocketAddr>,
    /// Most channels the server holds [file: max_channels; default: 1000].
    #[arg(long, env = "FLACK_MAX_CHANNELS")]
    pub max_channels: Option<usize>,
    /// Events buffered per channel for a slow connection before it is
    /// resynchronised [file: fanout_capacity; default: 256].
    #[arg(long, env = "FLACK_FANOUT_CAPACITY")]
    pub fanout_capacity: Option<usize>,
    /// Mark the identity cookie `Secure` (serve over HTTPS when set)
    /// [file: secure_cookie; default: false].
    #[arg(long, env = "FLACK_SECURE_COOKIE")]
    pub secure_cookie: Option<bool>,
    /// Sends a connection may make at once before the rate applies
    /// [file: send_burst; default: 10].
    #[arg(long, env = "FLACK_SEND_BURST")]
    pub send_burst: Option<u32>,
    /// Sends per second a connection may sustain; 0 turns the limit off
    /// [file: send_per_second; default: 5].
    #[arg(long, env = "FLACK_SEND_PER_SECOND")]
    pub send_per_second: Option<u32>,
    /// Channels one identity may create per minute; 0 turns the limit off
    /// [file: channels_per_minute; default: 10].
    #[arg(long, env = "FLACK_CHANNELS_PER_MINUTE")]
    pub channels_per_minute: Option<u32>,
    /// Open WebSocket connections per IP address; 0 turns the limit off
    /// [file: connections_per_ip; default: 64].
    #[arg(long, env = "FLACK_CONNECTIONS_PER_IP")]
    pub connections_per_ip: Option<usize>,
}

/// The `[server]` table of the settings file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    addr: Option<SocketAddr>,
    max_channels: Option<usize>,
    fanout_capacity: Option<usize>,
    secure_cookie: Option<bool>,
    send_burst: Option<u32>,
    send_per_second: Option<u32>,
    channels_per_minute: Option<u32>,
    connections_per_ip: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
struct SettingsFile {
    #[serde(default)]
    server: FileSettings,
}

/// The settings the server runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub addr: SocketAddr,
    pub max_channels: usize,
    pub fanout_capacity: usize,
    pub secure_cookie: bool,
    pub send_burst: u32,
    pub send_per_second: u32,
    pub channels_per_minute: u32,
    pub connections_per_ip: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            addr: SocketAddr::from(([127, 0, 0, 1], 3000)),
            max_channels: DEFAULT_MAX_CHANNELS,
            fanout_capacity: 256,
            secure_cookie: false,
            send_burst: 10,
            send_per_second: 5,
            channels_per_minute: 10,
            connections_per_ip: 64,
        }
    }
}

impl Settings {
    /// Resolves every setting; `fallback_addr` is the address cargo-leptos
    /// configured, used when nothing else names one.
    pub fn resolve(args: Args, fallback_addr: SocketAddr) -> Result<Self, String> {
        let file = read_file(&args.config)?;
        let default = Settings::default();
        let settings = Settings {
            addr: args.addr.or(file.addr).unwrap_or(fallback_addr),
            max_channels: args
                .max_channels
                .or(file.max_channels)
                .unwrap_or(default.max_channels),
            fanout_capacity: args
                .fanout_capacity
                .or(file.fanout_capacity)
                .unwrap_or(default.fanout_capacity),
            secure_cookie: args
                .secure_cookie
                .or(file.secure_cookie)
                .unwrap_or(default.secure_cookie),
            send_burst: args
                .send_burst
                .or(file.send_burst)
                .unwrap_or(default.send_burst),
            send_per_second: args
                .send_per_second
                .or(file.send_per_second)
                .unwrap_or(default.send_per_second),
            channels_per_minute: args
                .channels_per_minute
                .or(file.channels_per_minute)
                .unwrap_or(default.channels_per_minute),
            connections_per_ip: args
                .connections_per_ip
                .or(file.connections_per_ip)
                .unwrap_or(default.connections_per_ip),
        };
        if settings.fanout_capacity == 0 || settings.max_channels == 0 {
            return Err("max_channels and fanout_capacity must be at least 1".into());
        }
        Ok(settings)
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

        let s = Settings::resolve(args(&[], &path), fallback).unwrap();
        assert_eq!(s.addr.to_string(), "0.0.0.0:8080");
        assert_eq!(s.max_channels, 5);
        assert_eq!(s.fanout_capacity, 256);

        let s = Settings::resolve(args(&["--max-channels", "9"], &path), fallback).unwrap();
        assert_eq!(s.max_channels, 9);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_file_means_defaults_and_a_broken_one_is_an_error() {
        let fallback: SocketAddr = "127.0.0.1:3000".parse().unwrap();
        let s =
            Settings::resolve(args(&[], Path::new("/nonexistent/Leptos.toml")), fallback).unwrap();
        assert_eq!(s.addr, fallback);

        let path = std::env::temp_dir().join(format!("flack-bad-{}.toml", std::process::id()));
        std::fs::write(&path, "[server]\nmax_chanels = 5\n").unwrap();
        assert!(Settings::resolve(args(&[], &path), fallback).is_err());
        std::fs::remove_file(&path).unwrap();
    }
}
