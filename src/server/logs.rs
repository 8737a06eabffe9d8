//! Log lines, on standard output: `RUST_LOG` chooses what is logged
//! (`info` when unset), the `log_format` setting how.
//!
//! Text lines are coloured only when standard output is a terminal: a
//! file, a pipe or journald would otherwise get raw escape sequences.
//! JSON lines are one object each, with the event's `level`, `fields` and
//! `target`, and the spans it happened in (`connection` for a WebSocket,
//! `server_fn` for a server function call).

use super::settings::LogFormat;
use std::fmt;
use std::io::IsTerminal;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::{DefaultFields, Writer};
use tracing_subscriber::fmt::{FormatFields, FormattedFields};
use tracing_subscriber::EnvFilter;

/// Sets the process's logger; once, at start. Panics if one is set
/// already (a bug: only `main` calls it).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Text => logs
            .with_ansi(std::io::stdout().is_terminal())
            .fmt_fields(TextFields::default())
            .init(),
        LogFormat::Json => logs.json().with_ansi(false).init(),
    }
}

/// Span fields written as tracing-subscriber writes them (`name=value`,
/// separated by spaces), except that a field recorded again when it is
/// the last one written replaces its value rather than being appended.
/// The `connection` span records its `channel` on each join: appended,
/// a tab that switched channels a hundred times would carry a hundred
/// `channel=` on every line of its connection, and in memory for as long
/// as it is open. (The JSON format replaces by itself.)
#[derive(Default)]
pub(crate) struct TextFields(DefaultFields);

impl<'writer> FormatFields<'writer> for TextFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        self.0.format_fields(writer, fields)
    }

    fn add_fields(
        &self,
        current: &'writer mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> fmt::Result {
        let kept = current.fields.len();
        if kept > 0 {
            current.fields.push(' ');
        }
        self.format_fields(current.as_writer(), fields)?;
        if kept == 0 {
            return Ok(());
        }
        let added = &current.fields[kept + 1..];
        // The name part: up to `=`, and the end of its style when coloured.
        let Some(equals) = added.find('=') else {
            return Ok(());
        };
        let name_end = equals
            + 1
            + if added[equals + 1..].starts_with("\x1b[0m") {
                4
            } else {
                0
            };
        // Several fields (or a value with spaces): appended as usual.
        if added[name_end..].contains(' ') {
            return Ok(());
        }
        let last = current.fields[..kept]
            .rfind(' ')
            .map_or(0, |space| space + 1);
        if current.fields[last..kept].starts_with(&added[..name_end]) {
            let added = added.to_owned();
            current.fields.truncate(last);
            current.fields.push_str(&added);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::fmt::MakeWriter;

    /// Log lines written to memory.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Lines {
        type Writer = Lines;

        fn make_writer(&'a self) -> Lines {
            self.clone()
        }
    }

    fn logged(ansi: bool) -> String {
        let lines = Lines::default();
        let logger = tracing_subscriber::fmt()
            .with_writer(lines.clone())
            .with_ansi(ansi)
            .fmt_fields(TextFields::default())
            .finish();
        tracing::subscriber::with_default(logger, || {
            let span = tracing::info_span!(
                "connection",
                peer = "127.0.0.1:9",
                channel = tracing::field::Empty
            );
            let _entered = span.enter();
            span.record("channel", "general");
            span.record("channel", "random");
            tracing::info!("refused");
        });
        let bytes = lines.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn a_field_recorded_again_replaces_its_value() {
        let plain = logged(false);
        assert!(plain.contains(r#"channel="random""#), "{plain}");
        assert!(!plain.contains("general"), "{plain}");
        assert!(plain.contains(r#"peer="127.0.0.1:9""#), "{plain}");

        let coloured = logged(true);
        assert!(coloured.contains('\x1b'), "{coloured}");
        assert!(coloured.contains("random"), "{coloured}");
        assert!(!coloured.contains("general"), "{coloured}");
    }
}
