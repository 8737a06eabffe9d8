//! Puts the site into the server binary, so that the binary alone serves
//! the whole app.
//!
//! `cargo leptos build --release --precompress --split` builds the site first (the
//! WASM, JS and CSS in `pkg/`, the files of `public/`, all in
//! `target/site`), then the server: release builds embed every file the
//! browser needs, brotli-compressed by memory-serve (the server makes the
//! gzip variant at start). Without `--precompress`, cargo-leptos builds the
//! server while it still writes the site, and may embed a half-built one.
//! Debug builds embed nothing: they read the files from disk when asked, so
//! `cargo leptos watch --split` serves fresh ones.

fn main() {
    #[cfg(feature = "ssr")]
    site::embed();
}

#[cfg(feature = "ssr")]
mod site {
    use std::fs;
    use std::io;
    use std::path::{Path, PathBuf};
    use std::time::SystemTime;

    pub fn embed() {
        let site = std::env::var("LEPTOS_SITE_ROOT").unwrap_or_else(|_| "target/site".into());
        println!("cargo::rerun-if-env-changed=LEPTOS_SITE_ROOT");
        println!("cargo::rerun-if-changed={site}");
        // memory-serve otherwise prints a warning line for every file.
        std::env::set_var("MEMORY_SERVE_QUIET", "1");
        let embed = !cfg!(debug_assertions);
        let built = Path::new(&site)
            .read_dir()
            .is_ok_and(|mut entries| entries.next().is_some());
        if !built {
            // `cargo test` before `cargo leptos build`: pages then load
            // without their WASM.
            println!(
                "cargo::warning=No site built in {site} yet: this build serves public/ \
                 only (enough for `cargo test`); `cargo leptos build --release --split \
                 --precompress` builds the whole app."
            );
            println!("cargo::rustc-env=FLACK_PKG_VERSION=");
            return memory_serve::load_directory_with_embed("public", embed);
        }
        if !embed {
            println!("cargo::rustc-env=FLACK_PKG_VERSION=");
            return memory_serve::load_directory_with_embed(site, false);
        }
        let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
        let staged = out.join("site");
        let precompressed = stage(Path::new(&site), &staged).expect("cannot copy the site");
        if precompressed == 0 {
            println!(
                "cargo::warning=The site in {site} was not precompressed: build with \
                 `cargo leptos build --release --precompress --split`, or cargo-leptos builds \
                 the server while still writing the site."
            );
        }
        let version = version_pkg(&staged.join("pkg")).expect("cannot version the site's code");
        println!("cargo::rustc-env=FLACK_PKG_VERSION={version}");
        memory_serve::load_directory_with_embed(staged, true);
    }

    /// Moves the JS and WASM of `pkg` (the main module, the split loader and
    /// the lazily loaded chunks) into `pkg/<version>/`, where `version` is a
    /// hash of all of them together, and returns it. They refer to each
    /// other by relative names (`./flack.js`, `./thread_panel.wasm`), which
    /// stay right; and a build that changes any of them changes every URL,
    /// so the server can let browsers keep them for a year. The style sheet
    /// keeps its own hashed name (see `server::site`), and the split
    /// manifest, which only cargo-leptos reads, is left out.
    fn version_pkg(pkg: &Path) -> io::Result<String> {
        use std::hash::{DefaultHasher, Hasher};
        let mut code: Vec<PathBuf> = fs::read_dir(pkg)?
            .map(|entry| entry.map(|e| e.path()))
            .collect::<io::Result<_>>()?;
        code.retain(|path| {
            path.extension()
                .is_some_and(|ext| ext == "js" || ext == "wasm" || ext == "json")
        });
        code.sort();
        let mut hasher = DefaultHasher::new();
        for path in &code {
            hasher.write(path.file_name().unwrap_or_default().as_encoded_bytes());
            hasher.write(&fs::read(path)?);
        }
        let version = format!("{:016x}", hasher.finish());
        let dir = pkg.join(&version);
        let time = fs::metadata(pkg)?.modified()?;
        fs::create_dir(&dir)?;
        for path in &code {
            match path.extension() {
                Some(ext) if ext == "json" => fs::remove_file(path)?,
                _ => fs::rename(path, dir.join(path.file_name().unwrap_or_default()))?,
            }
        }
        // As in `copy_dir`: nothing staged may look newer than the site.
        keep_time(&dir, time)?;
        keep_time(pkg, time)?;
        Ok(version)
    }

    /// Copies the files a browser loads from `from` to a fresh `to`: not
    /// cargo-leptos's `.br` and `.gz` copies (memory-serve compresses by
    /// itself), nor TypeScript declarations. Returns how many `.br` files it
    /// left out.
    fn stage(from: &Path, to: &Path) -> io::Result<usize> {
        if to.exists() {
            fs::remove_dir_all(to)?;
        }
        copy_dir(from, to)
    }

    fn copy_dir(from: &Path, to: &Path) -> io::Result<usize> {
        fs::create_dir_all(to)?;
        let mut precompressed = 0;
        for entry in fs::read_dir(from)? {
            let entry = entry?;
            let (source, target) = (entry.path(), to.join(entry.file_name()));
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.file_type()?.is_dir() {
                precompressed += copy_dir(&source, &target)?;
            } else if name.ends_with(".br") {
                precompressed += 1;
            } else if !name.ends_with(".gz") && !name.ends_with(".d.ts") {
                fs::copy(&source, &target)?;
                keep_time(&target, entry.metadata()?.modified()?)?;
            }
        }
        // Cargo reruns this script when anything in a folder it watches
        // (memory-serve watches `to`) is newer than the script's last run:
        // the copies keep their originals' times.
        keep_time(to, fs::metadata(from)?.modified()?)?;
        Ok(precompressed)
    }

    fn keep_time(path: &Path, time: SystemTime) -> io::Result<()> {
        fs::File::open(path)?.set_modified(time)
    }
}
