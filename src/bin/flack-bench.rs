//! `flack-bench`: a load generator that speaks Flack's documented protocol
//! (docs/protocol.md) over real WebSockets to a running server.
//!
//! - `fanout`: N clients in one channel, one sender at R messages/s for S
//!   seconds; delivered messages/s, latency from send to receipt (p50, p99,
//!   max) and how many were lost.
//! - `saturate`: N clients in one channel, one or more senders as fast as
//!   the server delivers, each with at most W unacknowledged messages in
//!   flight.
//! - `idle`: N connections joined and idle (answering the server's pings);
//!   the server's RSS before and after, and per connection (read from
//!   /proc/<pid>/status).
//! - `acks`: S senders, each its own identity, each with at most W sends
//!   not yet acknowledged; acknowledged (that is, committed) messages/s and
//!   the latency from send to `ack`.
//! - `latency`: a fixed rate of sends spread over S senders; the latency
//!   from send to `ack` (p50, p99, max).
//! - `fill`: writes a database file directly through Flack's store (no
//!   server): N channels, M messages; its size per message.
//! - `startup`: starts a `flack` binary on a database file and times it to
//!   its first answered HTTP request.
//! - `search`: full-text searches through Flack's store on a file made by
//!   `fill` (no server): latency per kind of query (p50, p99, max).
//!
//! Run the server without the send limit (`--send-per-second 0`) and
//! without the per-address cap (`--connections-per-ip 0`), or spread the
//! clients over enough source addresses. docs/benchmarks.md has the
//! recipes and the figures.
//!
//! Kernel limits that matter: the open-files limit of both processes
//! (`ulimit -n`; this tool raises its own soft limit to the hard one), the
//! ephemeral port range (`net.ipv4.ip_local_port_range`, about 28,000 ports
//! per source address, which is why clients spread over 127.0.0.0/8), and
//! `net.core.somaxconn` for bursts of connects.

use clap::{Parser, Subcommand};
use futures_util::{SinkExt, StreamExt};
use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

type Socket = WebSocketStream<TcpStream>;

#[derive(Parser)]
#[command(
    name = "flack-bench",
    about = "Load generator for a running Flack server"
)]
struct Args {
    /// The server's address.
    #[arg(long, default_value = "127.0.0.1:3000")]
    server: SocketAddr,
    /// Connections per source address; more clients than this are spread
    /// over 127.0.0.2, 127.0.0.3, ...
    #[arg(long, default_value_t = 20_000)]
    per_address: usize,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// One sender at a fixed rate to N clients.
    Fanout {
        #[arg(long, default_value_t = 1000)]
        clients: usize,
        /// Messages per second.
        #[arg(long, default_value_t = 100)]
        rate: u32,
        /// Seconds to send for.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Message size in bytes.
        #[arg(long, default_value_t = 100)]
        size: usize,
    },
    /// Senders as fast as the server delivers: each with at most W
    /// messages sent but not yet acknowledged, and all together at most
    /// senders x W ahead of the average client's deliveries.
    Saturate {
        #[arg(long, default_value_t = 1000)]
        clients: usize,
        /// Sending connections (one identity), each with its own window.
        #[arg(long, default_value_t = 1)]
        senders: usize,
        /// Unacknowledged messages allowed in flight.
        #[arg(long, default_value_t = 64)]
        window: u64,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value_t = 100)]
        size: usize,
        /// People (each a claimed name, so also online) in the channel
        /// saying they type, each once every 2 s, for the whole run.
        #[arg(long, default_value_t = 0)]
        typists: usize,
    },
    /// N connections joined and idle; the server's memory per connection.
    Idle {
        #[arg(long, default_value_t = 10_000)]
        clients: usize,
        /// The server's process id (for /proc/<pid>/status).
        #[arg(long)]
        pid: u32,
    },
    /// Senders, each its own identity, as fast as their sends are
    /// acknowledged (stored): acknowledged messages/s.
    Acks {
        /// Sending connections, each with its own claimed name.
        #[arg(long, default_value_t = 100)]
        senders: usize,
        /// Sends each sender may have unacknowledged.
        #[arg(long, default_value_t = 8)]
        window: u64,
        /// Channels the senders are spread over.
        #[arg(long, default_value_t = 1)]
        channels: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value_t = 100)]
        size: usize,
    },
    /// A fixed rate of sends spread over senders: latency from send to ack.
    Latency {
        /// Messages per second, all senders together.
        #[arg(long, default_value_t = 1000)]
        rate: u32,
        #[arg(long, default_value_t = 10)]
        senders: usize,
        #[arg(long, default_value_t = 1)]
        channels: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value_t = 100)]
        size: usize,
    },
    /// Fills a database file through Flack's store, without a server.
    Fill {
        /// The file; it must not exist.
        #[arg(long)]
        database: PathBuf,
        #[arg(long, default_value_t = 1_000_000)]
        messages: u64,
        /// Channels the messages are spread over, round robin.
        #[arg(long, default_value_t = 10)]
        channels: u64,
        /// Message size in bytes.
        #[arg(long, default_value_t = 100)]
        size: usize,
    },
    /// Full-text searches on a file made by `fill`, through Flack's store.
    Search {
        #[arg(long)]
        database: PathBuf,
        /// Searches of each kind.
        #[arg(long, default_value_t = 200)]
        queries: usize,
    },
    /// Starts `flack` on a database and times it to its first answered
    /// HTTP request (at --server), then stops it with SIGTERM.
    Startup {
        /// The server binary.
        #[arg(long, default_value = "target/release/flack")]
        binary: PathBuf,
        #[arg(long)]
        database: PathBuf,
        /// Starts, one after the other.
        #[arg(long, default_value_t = 3)]
        runs: u32,
    },
}

// One thread: the generator is pinned to one core, and a single-threaded
// runtime spends nothing on waking tasks across threads.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    raise_open_files_limit();
    let run = Run {
        server: args.server,
        per_address: args.per_address.max(1),
        channel: format!("bench-{}", std::process::id()),
    };
    match args.scenario {
        Scenario::Fanout {
            clients,
            rate,
            seconds,
            size,
        } => run.fanout(clients, rate, seconds, size).await,
        Scenario::Saturate {
            clients,
            senders,
            window,
            seconds,
            size,
            typists,
        } => {
            run.saturate(clients, senders, window, seconds, size, typists)
                .await
        }
        Scenario::Search { database, queries } => {
            off_the_runtime(move || search(&database, queries))
        }
        Scenario::Idle { clients, pid } => run.idle(clients, pid).await,
        Scenario::Acks {
            senders,
            window,
            channels,
            seconds,
            size,
        } => {
            let pace = Pace::Window(window.max(1));
            run.acks(senders, channels, pace, seconds, size).await
        }
        Scenario::Latency {
            rate,
            senders,
            channels,
            seconds,
            size,
        } => {
            let senders = senders.max(1);
            // Each sender's period, for `rate` messages/s from all.
            let period = Duration::from_secs(senders as u64) / rate.max(1);
            run.acks(senders, channels, Pace::Every(period), seconds, size)
                .await
        }
        Scenario::Fill {
            database,
            messages,
            channels,
            size,
        } => off_the_runtime(move || fill(&database, messages, channels.max(1), size)),
        Scenario::Startup {
            binary,
            database,
            runs,
        } => run.startup(&binary, &database, runs).await,
    }
}

/// Runs work that uses Flack's store directly on a thread of its own: a
/// store opened inside the runtime hands its completions to the runtime,
/// which this work, waiting for them, would block (one thread).
fn off_the_runtime(
    work: impl FnOnce() -> Result<(), Box<dyn std::error::Error>> + Send + 'static,
) -> Result<(), Box<dyn std::error::Error>> {
    std::thread::spawn(move || work().map_err(|e| e.to_string()))
        .join()
        .map_err(|_| "the work panicked")??;
    Ok(())
}

/// Raises the soft open-files limit to the hard one.
fn raise_open_files_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => eprintln!("open-files limit: {limit}"),
        Err(err) => eprintln!("could not raise the open-files limit: {err}"),
    }
}

struct Run {
    server: SocketAddr,
    per_address: usize,
    channel: String,
}

impl Run {
    /// The source address of the `index`-th client.
    fn source(&self, index: usize) -> Ipv4Addr {
        let n = (index / self.per_address) as u32 + 1;
        Ipv4Addr::from(u32::from(Ipv4Addr::new(127, 0, 0, 0)) + n)
    }

    async fn connect(
        &self,
        index: usize,
        cookie: Option<&str>,
    ) -> Result<Socket, Box<dyn std::error::Error>> {
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::V4(SocketAddrV4::new(self.source(index), 0)))?;
        let stream = socket.connect(self.server).await?;
        stream.set_nodelay(true)?;
        let mut request = format!("ws://{}/ws", self.server).into_client_request()?;
        if let Some(cookie) = cookie {
            request
                .headers_mut()
                .insert("cookie", HeaderValue::from_str(cookie)?);
        }
        // tungstenite zero-fills the free part of its read buffer before
        // every read: with the default 128 KiB, that memset was 70 % of
        // this tool's user time. The server's frames are a few hundred bytes.
        let config = WebSocketConfig::default().read_buffer_size(4 * 1024);
        let (ws, _) =
            tokio_tungstenite::client_async_with_config(request, stream, Some(config)).await?;
        Ok(ws)
    }

    /// Connects a client and joins the bench channel; returns once joined.
    async fn joined_client(
        &self,
        index: usize,
        cookie: Option<&str>,
    ) -> Result<Socket, Box<dyn std::error::Error>> {
        let mut ws = self.connect(index, cookie).await?;
        let join = format!(r#"{{"type":"join","channel":"{}"}}"#, self.channel);
        ws.send(Message::text(join)).await?;
        while let Some(frame) = ws.next().await {
            if let Message::Text(text) = frame? {
                if text.as_str().starts_with(r#"{"type":"joined""#) {
                    return Ok(ws);
                }
                if text.as_str().starts_with(r#"{"type":"error""#) {
                    return Err(format!("join refused: {}", text.as_str()).into());
                }
            }
        }
        Err("the server closed the connection while joining".into())
    }

    /// Claims a name, creates the bench channel; returns the cookie.
    async fn setup(&self) -> Result<String, Box<dyn std::error::Error>> {
        let cookie = self.claim(&format!("bench{}", std::process::id())).await?;
        self.create_channel(&self.channel, &cookie).await?;
        Ok(cookie)
    }

    /// Claims a display name; returns its cookie (`flack_token=...`).
    async fn claim(&self, name: &str) -> Result<String, Box<dyn std::error::Error>> {
        let (head, body) = self
            .post("claim_name", &format!("name={name}"), None)
            .await?;
        let cookie = head
            .lines()
            .find_map(|l| {
                let (key, value) = l.split_once(':')?;
                key.eq_ignore_ascii_case("set-cookie")
                    .then(|| value.trim().split(';').next().unwrap_or("").to_owned())
            })
            .ok_or_else(|| format!("claiming a name failed: {head} {body}"))?;
        Ok(cookie)
    }

    async fn create_channel(
        &self,
        name: &str,
        cookie: &str,
    ) -> Result<(), Box<dyn std::error::Error>> {
        let (head, body) = self
            .post("create_channel", &format!("name={name}"), Some(cookie))
            .await?;
        if !head.starts_with("HTTP/1.1 200") {
            return Err(format!("creating the channel failed: {body}").into());
        }
        Ok(())
    }

    async fn post(
        &self,
        endpoint: &str,
        form: &str,
        cookie: Option<&str>,
    ) -> std::io::Result<(String, String)> {
        let mut stream = TcpStream::connect(self.server).await?;
        let cookie = cookie
            .map(|c| format!("Cookie: {c}\r\n"))
            .unwrap_or_default();
        let request = format!(
            "POST /api/{endpoint} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded\r\n{cookie}Content-Length: {}\r\nConnection: close\r\n\r\n{form}",
            self.server,
            form.len()
        );
        stream.write_all(request.as_bytes()).await?;
        let mut response = String::new();
        stream.read_to_string(&mut response).await?;
        let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
        Ok((head.to_owned(), body.to_owned()))
    }

    /// The common start: a sender's identity and channel, and `clients`
    /// joined receivers.
    async fn prepare(
        self,
        clients: usize,
    ) -> Result<(Arc<Self>, String, Vec<Socket>), Box<dyn std::error::Error>> {
        let run = Arc::new(self);
        let cookie = run.setup().await?;
        let receivers = run.crowd(clients).await?;
        Ok((run, cookie, receivers))
    }

    /// Connects `clients` joined clients, a few at a time.
    async fn crowd(
        self: &Arc<Self>,
        clients: usize,
    ) -> Result<Vec<Socket>, Box<dyn std::error::Error>> {
        let started = Instant::now();
        let mut sockets = Vec::with_capacity(clients);
        for batch in (0..clients).collect::<Vec<_>>().chunks(200) {
            let joins = batch.iter().map(|&i| {
                let run = Arc::clone(self);
                tokio::spawn(
                    async move { run.joined_client(i, None).await.map_err(|e| e.to_string()) },
                )
            });
            for join in joins.collect::<Vec<_>>() {
                sockets.push(join.await??);
            }
        }
        eprintln!(
            "{clients} clients joined in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        Ok(sockets)
    }

    async fn fanout(
        self,
        clients: usize,
        rate: u32,
        seconds: u64,
        size: usize,
    ) -> Result<(), Box<dyn std::error::Error>> {
        let (run, cookie, receivers) = self.prepare(clients).await?;
        let total = rate as u64 * seconds;
        let epoch = Instant::now();
        // What has not come 5 s after the last send is lost.
        let give_up = tokio::time::Instant::from_std(epoch)
            + Duration::from_secs(seconds)
            + Duration::from_secs(5);
        let tasks: Vec<_> = receivers
            .into_iter()
            .map(|ws| tokio::spawn(receive(ws, epoch, total, give_up)))
            .collect();
        let mut sender = run.joined_client(clients, Some(&cookie)).await?;
        let sending = tokio::spawn({
            let channel = run.channel.clone();
            async move {
                let mut ticks = tokio::time::interval(Duration::from_secs(1) / rate.max(1));
                for _ in 0..total {
                    ticks.tick().await;
                    let text = stamped_text(epoch, size);
                    let frame =
                        format!(r#"{{"type":"send","channel":"{channel}","text":"{text}"}}"#);
                    if sender.send(Message::text(frame)).await.is_err() {
                        break;
                    }
                }
                // Keep the sender's socket open until everything is read.
                sender
            }
        });
        let sender = sending.await?;
        let mut latencies = Vec::with_capacity(clients * total as usize);
        let mut received = 0u64;
        for task in tasks {
            let (count, mut lat) = task.await?;
            received += count;
            latencies.append(&mut lat);
        }
        let elapsed = epoch.elapsed().as_secs_f64();
        drop(sender);
        let expected = total * clients as u64;
        latencies.sort_unstable();
        println!("scenario: fanout, {clients} clients, {rate} msg/s for {seconds} s, {size}-byte messages");
        println!(
            "deliveries: {received} of {expected}, lost {}",
            expected - received
        );
        println!(
            "delivered: {:.0} messages/s over {elapsed:.1} s",
            received as f64 / elapsed
        );
        println!(
            "latency: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            percentile(&latencies, 0.50),
            percentile(&latencies, 0.99),
            percentile(&latencies, 1.0)
        );
        Ok(())
    }

    async fn saturate(
        self,
        clients: usize,
        senders: usize,
        window: u64,
        seconds: u64,
        size: usize,
        typists: usize,
    ) -> Result<(), Box<dyn std::error::Error>> {
        let senders = senders.max(1);
        let (run, cookie, receivers) = self.prepare(clients).await?;
        let typing_until = Instant::now() + Duration::from_secs(seconds + 5);
        for t in 0..typists {
            let name = format!("typist{}x{t}", std::process::id());
            let their = run.claim(&name).await?;
            let ws = run
                .joined_client(clients + senders + t, Some(&their))
                .await?;
            let (mut sink, stream) = ws.split();
            tokio::spawn(count_frames(
                stream,
                "none",
                Arc::new(AtomicU64::new(0)),
                None,
            ));
            let frame = format!(
                r#"{{"type":"typing","channel":"{}","on":true}}"#,
                run.channel
            );
            tokio::spawn(async move {
                // Spread over the 2 s, as people would be.
                let offset = Duration::from_millis(2000 * t as u64 / typists as u64);
                tokio::time::sleep(offset).await;
                let mut every = tokio::time::interval(Duration::from_secs(2));
                while Instant::now() < typing_until {
                    every.tick().await;
                    if sink.send(Message::text(frame.clone())).await.is_err() {
                        break;
                    }
                }
            });
        }
        let delivered = Arc::new(AtomicU64::new(0));
        for ws in receivers {
            tokio::spawn(count_frames(ws, "message", Arc::clone(&delivered), None));
        }
        let text = Arc::new("x".repeat(size));
        let total_sent = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        let deadline = started + Duration::from_secs(seconds);
        let at_start = delivered.load(Ordering::Relaxed);
        let mut tasks = Vec::new();
        for sender in 0..senders {
            let ws = run.joined_client(clients + sender, Some(&cookie)).await?;
            let sending = Sending {
                channel: run.channel.clone(),
                text: Arc::clone(&text),
                clients: clients as u64,
                // The delivery bound is shared: all senders together stay
                // at most senders x window ahead of the average client.
                ahead: window * senders as u64,
                window,
                delivered: Arc::clone(&delivered),
                total_sent: Arc::clone(&total_sent),
                deadline,
                sender,
            };
            tasks.push(tokio::spawn(sending.run(ws)));
        }
        for task in tasks {
            task.await??;
        }
        let elapsed = started.elapsed().as_secs_f64();
        let count = delivered.load(Ordering::Relaxed) - at_start;
        let sent = total_sent.load(Ordering::Relaxed);
        println!(
            "scenario: saturate, {clients} clients, {senders} sender(s), window {window}, \
             {seconds} s, {size}-byte messages, {typists} typists"
        );
        println!("sent: {sent} messages ({:.0}/s)", sent as f64 / elapsed);
        println!(
            "delivered: {count} ({:.0} messages/s)",
            count as f64 / elapsed
        );
        Ok(())
    }

    async fn idle(self, clients: usize, pid: u32) -> Result<(), Box<dyn std::error::Error>> {
        let run = Arc::new(self);
        run.setup().await?;
        let before = rss_kib(pid)?;
        // Each socket is read from the moment it has joined, as a client
        // would: the server pings silent connections and closes those that
        // do not answer (tungstenite answers pings while it reads).
        let started = Instant::now();
        let frames = Arc::new(AtomicU64::new(0));
        let closed = Arc::new(AtomicU64::new(0));
        let mut readers = Vec::with_capacity(clients);
        for batch in (0..clients).collect::<Vec<_>>().chunks(200) {
            let joins: Vec<_> = batch
                .iter()
                .map(|&i| {
                    let run = Arc::clone(&run);
                    tokio::spawn(async move {
                        run.joined_client(i, None).await.map_err(|e| e.to_string())
                    })
                })
                .collect();
            for join in joins {
                let ws = join.await??;
                let (frames, closed) = (Arc::clone(&frames), Arc::clone(&closed));
                readers.push(tokio::spawn(async move {
                    count_frames(ws, "none", frames, None).await;
                    closed.fetch_add(1, Ordering::Relaxed);
                }));
            }
        }
        eprintln!(
            "{clients} clients joined in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        // Let the server settle (allocator, buffers) before reading.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let after = rss_kib(pid)?;
        let closed = closed.load(Ordering::Relaxed);
        println!("scenario: idle, {clients} connections joined to one channel");
        if closed > 0 {
            println!("closed by the server meanwhile: {closed}");
        }
        println!("server RSS: {before} KiB before, {after} KiB after");
        println!(
            "per connection: {:.2} KiB",
            (after.saturating_sub(before)) as f64 / clients as f64
        );
        for reader in readers {
            reader.abort();
        }
        Ok(())
    }

    /// `acks` and `latency`: senders, each its own identity, spread over
    /// `channels` channels (they do not join them: what is measured is
    /// storing and acknowledging, not fan-out).
    async fn acks(
        self,
        senders: usize,
        channels: usize,
        pace: Pace,
        seconds: u64,
        size: usize,
    ) -> Result<(), Box<dyn std::error::Error>> {
        let senders = senders.max(1);
        let channels = channels.max(1);
        let run = Arc::new(self);
        let cookie = run.setup().await?;
        let mut names = vec![run.channel.clone()];
        for k in 1..channels {
            let name = format!("{}-{k}", run.channel);
            run.create_channel(&name, &cookie).await?;
            names.push(name);
        }
        let started = Instant::now();
        let mut sockets = Vec::with_capacity(senders);
        for sender in 0..senders {
            let name = format!("bench{}-{sender}", std::process::id());
            let cookie = run.claim(&name).await?;
            sockets.push(run.connect(sender, Some(&cookie)).await?);
        }
        eprintln!(
            "{senders} senders claimed names and connected in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let text = Arc::new("x".repeat(size));
        let start = Instant::now() + Duration::from_millis(100);
        let deadline = start + Duration::from_secs(seconds);
        let tasks: Vec<_> = sockets
            .into_iter()
            .enumerate()
            .map(|(sender, ws)| {
                let sending = AckSender {
                    channel: names[sender % channels].clone(),
                    text: Arc::clone(&text),
                    sender,
                    pace,
                    // Rate senders start spread evenly over one period.
                    first: match pace {
                        Pace::Every(period) => start + period * sender as u32 / senders as u32,
                        Pace::Window(_) => start,
                    },
                    deadline,
                };
                tokio::spawn(sending.run(ws))
            })
            .collect();
        let mut total = AckTally::default();
        for task in tasks {
            let tally = task.await??;
            total.sent += tally.sent;
            total.acked += tally.acked;
            total.acked_in_time += tally.acked_in_time;
            total.refused += tally.refused;
            total.mismatched += tally.mismatched;
            total.latencies.extend(tally.latencies);
        }
        total.latencies.sort_unstable();
        match pace {
            Pace::Window(window) => println!(
                "scenario: acks, {senders} senders (one identity each), window {window}, \
                 {channels} channel(s), {seconds} s, {size}-byte messages"
            ),
            Pace::Every(period) => println!(
                "scenario: latency, {:.0} msg/s over {senders} senders (one identity each), \
                 {channels} channel(s), {seconds} s, {size}-byte messages",
                senders as f64 / period.as_secs_f64()
            ),
        }
        println!(
            "sent: {} ({:.0}/s); acknowledged: {}, refused: {}, out of order: {}",
            total.sent,
            total.sent as f64 / seconds as f64,
            total.acked,
            total.refused,
            total.mismatched
        );
        println!(
            "acknowledged within the {seconds} s: {} ({:.0} messages/s)",
            total.acked_in_time,
            total.acked_in_time as f64 / seconds as f64
        );
        println!(
            "ack latency: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            percentile(&total.latencies, 0.50),
            percentile(&total.latencies, 0.99),
            percentile(&total.latencies, 1.0)
        );
        Ok(())
    }

    /// Starts `binary` on `database` `runs` times; each time, the time to
    /// its first answered HTTP request (GET / at --server: the page, what a
    /// browser asks for first), then to its first file (GET /favicon.svg:
    /// the site's files are made ready beside), then SIGTERM and the time
    /// to exit.
    async fn startup(
        self,
        binary: &std::path::Path,
        database: &std::path::Path,
        runs: u32,
    ) -> Result<(), Box<dyn std::error::Error>> {
        if !database.exists() {
            return Err(format!("there is no database at {}", database.display()).into());
        }
        println!(
            "scenario: startup, {} ({} bytes)",
            database.display(),
            std::fs::metadata(database)?.len()
        );
        for _ in 0..runs.max(1) {
            let started = Instant::now();
            let mut child = std::process::Command::new(binary)
                .arg("--addr")
                .arg(self.server.to_string())
                .arg("--database")
                .arg(database)
                .env("LEPTOS_ENV", "PROD")
                .env("RUST_LOG", "info")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::null())
                .spawn()?;
            // The server's own log line with its load time (the log goes
            // to stdout).
            let stdout = child.stdout.take().expect("stdout is piped");
            let (loaded_tx, loaded_rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                use std::io::BufRead;
                for line in std::io::BufReader::new(stdout)
                    .lines()
                    .map_while(Result::ok)
                {
                    let line = strip_ansi(&line);
                    if line.contains("state loaded") {
                        let _ = loaded_tx.send(line);
                    }
                }
            });
            let status = loop {
                if started.elapsed() > Duration::from_secs(60) {
                    let _ = child.kill();
                    return Err("the server did not answer within 60 s".into());
                }
                match self.get("/").await {
                    Ok(status) => break status,
                    Err(_) => tokio::time::sleep(Duration::from_millis(1)).await,
                }
            };
            let answered = started.elapsed();
            let file = self.get("/favicon.svg").await?;
            let files = started.elapsed();
            std::process::Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status()?;
            let stopping = Instant::now();
            child.wait()?;
            let stopped = stopping.elapsed();
            let loaded = loaded_rx
                .recv_timeout(Duration::from_secs(1))
                .unwrap_or_else(|_| "(no \"state loaded\" line)".into());
            let loaded = loaded
                .split("state loaded")
                .nth(1)
                .unwrap_or(&loaded)
                .trim();
            println!(
                "first answer (the page) after {:.1} ms ({status}); a file after {:.1} ms \
                 ({file}); stopped {:.1} ms after SIGTERM; server: state loaded {loaded}",
                answered.as_secs_f64() * 1000.0,
                files.as_secs_f64() * 1000.0,
                stopped.as_secs_f64() * 1000.0
            );
        }
        Ok(())
    }

    /// GETs `path`; the response's status line.
    async fn get(&self, path: &str) -> std::io::Result<String> {
        let mut stream = TcpStream::connect(self.server).await?;
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.server
        );
        stream.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        let response = String::from_utf8_lossy(&response);
        match response.lines().next() {
            Some(line) if line.starts_with("HTTP/") => Ok(line.to_owned()),
            _ => Err(std::io::Error::other("no HTTP answer")),
        }
    }
}

/// A message text of `size` bytes that starts with the microseconds since
/// `epoch`, for latency.
fn stamped_text(epoch: Instant, size: usize) -> String {
    let mut text = format!("{}:", epoch.elapsed().as_micros());
    while text.len() < size {
        text.push('x');
    }
    text
}

/// Reads until `total` messages came (or `give_up`); the count and the
/// latency of each, in microseconds. One timer for the whole run: a timer
/// per frame would cost the generator more than the reading.
async fn receive(
    mut ws: Socket,
    epoch: Instant,
    total: u64,
    give_up: tokio::time::Instant,
) -> (u64, Vec<u32>) {
    let mut latencies = Vec::with_capacity(total as usize);
    let mut count = 0;
    let give_up = tokio::time::sleep_until(give_up);
    tokio::pin!(give_up);
    while count < total {
        let frame = tokio::select! {
            biased;
            frame = ws.next() => match frame {
                Some(Ok(frame)) => frame,
                _ => break,
            },
            () = &mut give_up => break,
        };
        let Message::Text(text) = frame else { continue };
        let text = text.as_str();
        if !text.starts_with(r#"{"type":"message""#) {
            continue;
        }
        count += 1;
        let now = epoch.elapsed().as_micros() as u64;
        if let Some(sent) = text
            .split(r#""text":""#)
            .nth(1)
            .and_then(|t| t.split(':').next())
            .and_then(|t| t.parse::<u64>().ok())
        {
            latencies.push(now.saturating_sub(sent).min(u32::MAX as u64) as u32);
        }
    }
    (count, latencies)
}

/// Counts the events of type `kind` a socket receives until it closes,
/// notifying `seen` (if any) at each.
async fn count_frames<S>(
    mut stream: S,
    kind: &str,
    count: Arc<AtomicU64>,
    seen: Option<Arc<tokio::sync::Notify>>,
) where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let prefix = format!(r#"{{"type":"{kind}""#);
    while let Some(Ok(frame)) = stream.next().await {
        if let Message::Text(text) = frame {
            if text.as_str().starts_with(&prefix) {
                count.fetch_add(1, Ordering::Relaxed);
                if let Some(seen) = &seen {
                    seen.notify_one();
                }
            }
        }
    }
}

/// A log line without its terminal colours.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // ESC [ ... letter
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The `q` quantile of sorted microseconds, in milliseconds.
fn percentile(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[index] as f64 / 1000.0
}

/// The resident set of a process, in KiB.
fn rss_kib(pid: u32) -> std::io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| std::io::Error::other("no VmRSS in /proc/<pid>/status"))
}

/// One sender of `saturate`: sends as fast as its window allows until the
/// deadline.
struct Sending {
    channel: String,
    text: Arc<String>,
    clients: u64,
    /// Most messages all senders together may be ahead of the average
    /// client's deliveries.
    ahead: u64,
    /// Most messages this sender may have sent but not had acknowledged.
    window: u64,
    delivered: Arc<AtomicU64>,
    total_sent: Arc<AtomicU64>,
    deadline: Instant,
    sender: usize,
}

impl Sending {
    async fn run(self, ws: Socket) -> Result<(), String> {
        let (mut sink, stream) = ws.split();
        let acked = Arc::new(AtomicU64::new(0));
        let acks = Arc::new(tokio::sync::Notify::new());
        tokio::spawn(count_frames(
            stream,
            "ack",
            Arc::clone(&acked),
            Some(Arc::clone(&acks)),
        ));
        let mut sent = 0u64;
        let blocked = |sent: u64| {
            let total = self.total_sent.load(Ordering::Relaxed);
            let behind =
                total.saturating_sub(self.delivered.load(Ordering::Relaxed) / self.clients);
            behind >= self.ahead || sent - acked.load(Ordering::Relaxed) >= self.window
        };
        while Instant::now() < self.deadline {
            if blocked(sent) {
                tokio::select! {
                    _ = acks.notified() => {}
                    _ = tokio::time::sleep(Duration::from_micros(200)) => {}
                }
                continue;
            }
            let frame = format!(
                r#"{{"type":"send","channel":"{}","text":"{}","client_id":"{}-{sent}"}}"#,
                self.channel, self.text, self.sender
            );
            sink.send(Message::text(frame))
                .await
                .map_err(|e| format!("sender {}: {e}", self.sender))?;
            sent += 1;
            self.total_sent.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }
}

/// How an `acks`/`latency` sender paces its sends.
#[derive(Clone, Copy)]
enum Pace {
    /// As fast as acks come back, with at most this many unacknowledged.
    Window(u64),
    /// One send per period, whatever comes back.
    Every(Duration),
}

/// What one sender of `acks`/`latency` saw.
#[derive(Default)]
struct AckTally {
    sent: u64,
    acked: u64,
    /// Acks that came before the deadline.
    acked_in_time: u64,
    refused: u64,
    /// Answers whose `client_id` was not the oldest unanswered send's.
    mismatched: u64,
    /// From send to ack, in microseconds.
    latencies: Vec<u32>,
}

/// One sender of `acks`/`latency`, its own identity, not joined to any
/// channel: it sees only the answers to its own sends.
struct AckSender {
    channel: String,
    text: Arc<String>,
    sender: usize,
    pace: Pace,
    /// When its first send is due.
    first: Instant,
    /// No sends after this; answers are awaited 5 s more.
    deadline: Instant,
}

impl AckSender {
    async fn run(self, ws: Socket) -> Result<AckTally, String> {
        let fail =
            |e: tokio_tungstenite::tungstenite::Error| format!("sender {}: {e}", self.sender);
        let (mut sink, mut stream) = ws.split();
        let mut tally = AckTally::default();
        // Sends not yet answered: their number and when they went out.
        // The server answers a connection's sends in order.
        let mut unanswered: VecDeque<(u64, Instant)> = VecDeque::new();
        let (window, period) = match self.pace {
            Pace::Window(window) => (window, None),
            Pace::Every(period) => (u64::MAX, Some(period)),
        };
        let mut ticks = tokio::time::interval_at(
            tokio::time::Instant::from_std(self.first),
            period.unwrap_or(Duration::from_secs(3600)),
        );
        // One timer for the whole run (see `receive`).
        let end = tokio::time::sleep_until(tokio::time::Instant::from_std(self.deadline));
        tokio::pin!(end);
        let mut sending = true;
        tokio::time::sleep_until(tokio::time::Instant::from_std(self.first)).await;
        loop {
            if sending && period.is_none() && (unanswered.len() as u64) < window {
                // Fill the window, flushed once.
                while (unanswered.len() as u64) < window {
                    let frame = self.frame(tally.sent);
                    sink.feed(Message::text(frame)).await.map_err(fail)?;
                    unanswered.push_back((tally.sent, Instant::now()));
                    tally.sent += 1;
                }
                sink.flush().await.map_err(fail)?;
            }
            if !sending && unanswered.is_empty() {
                break;
            }
            let frame = tokio::select! {
                biased;
                frame = stream.next() => match frame {
                    Some(Ok(frame)) => frame,
                    Some(Err(e)) => return Err(fail(e)),
                    None => return Err(format!("sender {}: the server closed", self.sender)),
                },
                _ = ticks.tick(), if sending && period.is_some() => {
                    let frame = self.frame(tally.sent);
                    sink.send(Message::text(frame)).await.map_err(fail)?;
                    unanswered.push_back((tally.sent, Instant::now()));
                    tally.sent += 1;
                    continue;
                }
                () = &mut end => {
                    if !sending {
                        break; // 5 s past the deadline: the rest is lost.
                    }
                    sending = false;
                    end.as_mut().reset(
                        tokio::time::Instant::from_std(self.deadline) + Duration::from_secs(5),
                    );
                    continue;
                }
            };
            let Message::Text(text) = frame else { continue };
            let text = text.as_str();
            let refused = text.starts_with(r#"{"type":"error""#);
            if !refused && !text.starts_with(r#"{"type":"ack""#) {
                continue;
            }
            let Some((number, at)) = unanswered.pop_front() else {
                tally.mismatched += 1;
                continue;
            };
            let now = Instant::now();
            let id = format!(r#""client_id":"{}-{number}""#, self.sender);
            if !text.contains(&id) {
                tally.mismatched += 1;
            }
            if refused {
                if tally.refused == 0 {
                    eprintln!("sender {}: refused: {text}", self.sender);
                }
                tally.refused += 1;
                continue;
            }
            tally.acked += 1;
            if now <= self.deadline {
                tally.acked_in_time += 1;
            }
            let micros = now.duration_since(at).as_micros();
            tally.latencies.push(micros.min(u32::MAX as u128) as u32);
        }
        Ok(tally)
    }

    fn frame(&self, number: u64) -> String {
        format!(
            r#"{{"type":"send","channel":"{}","text":"{}","client_id":"{}-{number}"}}"#,
            self.channel, self.text, self.sender
        )
    }
}

/// `fill`: writes `channels` channels and `messages` messages (round
/// robin, by one identity) into a new database file through Flack's own
/// store, as the server would (group commit), then closes it.
fn fill(
    database: &std::path::Path,
    messages: u64,
    channels: u64,
    size: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    use flack::model::{ChannelName, DisplayName, Identity, MessageText};
    use flack::server::store::{SqliteStore, Store, Write};
    if database.exists() {
        return Err(format!("{} exists already; name a new file", database.display()).into());
    }
    let path = database.to_str().ok_or("the database path is not UTF-8")?;
    let store = SqliteStore::open(path)?;
    let now = chrono::Utc::now();
    let author = DisplayName::parse("filler").map_err(|r| r.message)?;
    let writer = Identity {
        id: 1,
        name: author.clone(),
    };
    store.write(
        Write::Claim {
            presented: None,
            name: author.clone(),
            new_token: [0x42; 32],
            at: now,
            max_identities: 1,
        },
        Box::new(|_| {}),
    );
    let mut names = Vec::new();
    for id in 1..=channels {
        let name = ChannelName::parse(&format!("fill-{id}")).map_err(|r| r.message)?;
        names.push(name.clone());
        // The store numbers channels 1, 2, ... in the order made.
        store.write(
            Write::CreateChannel {
                name,
                at: now,
                max_channels: usize::MAX,
            },
            Box::new(|_| {}),
        );
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let started = Instant::now();
    // Queued in blocks; the next block waits for the one before the last,
    // so the writer always has work and the queue stays short.
    const BLOCK: u64 = 8192;
    let (done_tx, done_rx) = std::sync::mpsc::channel::<Result<(), String>>();
    let mut outstanding = 0;
    let mut n = 0u64;
    while n < messages {
        let end = (n + BLOCK).min(messages);
        for i in n..end {
            let channel = i % channels + 1;
            // Words of a vocabulary, picked as often as people use
            // words (Zipf: the n-th most common about 1/n as often), so a
            // search meets common and rare words alike.
            let mut text = String::new();
            while text.len() < size {
                if !text.is_empty() {
                    text.push(' ');
                }
                text.push_str(&vocabulary_word(zipf_rank(&mut rng)));
            }
            // What the server asks the store for a post; the store
            // numbers it and logs it.
            let write = Write::Post {
                channel,
                author: writer.clone(),
                text: MessageText::parse(&text).map_err(|r| r.message)?,
                thread: None,
                mentions: Vec::new(),
                client_id: None,
                at: now,
            };
            let done: flack::server::store::Done = if i + 1 == end {
                let done_tx = done_tx.clone();
                Box::new(move |r| {
                    let _ = done_tx.send(r.map(|_| ()).map_err(|e| e.to_string()));
                })
            } else {
                Box::new(|r| {
                    if let Err(e) = r {
                        eprintln!("a write failed: {e}");
                    }
                })
            };
            store.write(write, done);
        }
        outstanding += 1;
        n = end;
        if outstanding == 2 {
            done_rx.recv()??;
            outstanding -= 1;
        }
    }
    for _ in 0..outstanding {
        done_rx.recv()??;
    }
    let written = started.elapsed();
    store.close();
    let closed = started.elapsed();
    drop(store);
    let size_of = |suffix: &str| {
        let mut name = database.as_os_str().to_owned();
        name.push(suffix);
        std::fs::metadata(name).map(|m| m.len()).unwrap_or(0)
    };
    let (file, wal) = (size_of(""), size_of("-wal"));
    println!(
        "scenario: fill, {messages} messages of {size} bytes over {channels} channel(s) into {}",
        database.display()
    );
    println!(
        "written: {:.1} s ({:.0} messages/s through the store), closed after {:.1} s",
        written.as_secs_f64(),
        messages as f64 / written.as_secs_f64(),
        closed.as_secs_f64()
    );
    println!(
        "file: {file} bytes (WAL {wal} bytes), {:.1} bytes per message",
        (file + wal) as f64 / messages.max(1) as f64
    );
    Ok(())
}

/// How many different words `fill` writes.
const VOCABULARY: usize = 20_000;

/// A small deterministic random number generator (xorshift64*), so two
/// fills make the same file.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A word rank, 0 the most common: log-uniform over the vocabulary, which
/// is Zipf's law with exponent 1.
fn zipf_rank(rng: &mut Rng) -> usize {
    ((VOCABULARY as f64).powf(rng.unit()) as usize).saturating_sub(1)
}

/// The vocabulary's word of rank `n`: pronounceable, different for each n.
fn vocabulary_word(n: usize) -> String {
    const CONSONANTS: &[u8] = b"bcdfghjklmnprstvwz";
    const VOWELS: &[u8] = b"aeiou";
    let mut word = String::new();
    let mut rest = n;
    loop {
        word.push(CONSONANTS[rest % CONSONANTS.len()] as char);
        rest /= CONSONANTS.len();
        word.push(VOWELS[rest % VOWELS.len()] as char);
        rest /= VOWELS.len();
        if rest == 0 {
            break;
        }
        rest -= 1;
    }
    word
}

/// Times full-text searches of several kinds on a filled file, through the
/// store as the server uses it (every channel visible).
fn search(database: &std::path::Path, queries: usize) -> Result<(), Box<dyn std::error::Error>> {
    use flack::server::store::{SqliteStore, Store};
    let path = database.to_str().ok_or("the database path is not UTF-8")?;
    if !database.exists() {
        return Err(format!("{path} does not exist; make it with `fill`").into());
    }
    let store = SqliteStore::open(path)?;
    // Reads run on a runtime's blocking threads.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut rng = Rng(42);
    /// What a kind of search looks for, drawn at random.
    type Words = Box<dyn Fn(&mut Rng) -> Vec<String>>;
    let kinds: [(&str, Words); 6] = [
        (
            "the most common word",
            Box::new(|_| vec![vocabulary_word(0)]),
        ),
        (
            "a word of rank 10-99",
            Box::new(|r| vec![vocabulary_word(10 + r.next() as usize % 90)]),
        ),
        (
            "a word of rank 1,000-9,999",
            Box::new(|r| vec![vocabulary_word(1000 + r.next() as usize % 9000)]),
        ),
        (
            "two common words (rank < 50)",
            Box::new(|r| {
                vec![
                    vocabulary_word(r.next() as usize % 50),
                    vocabulary_word(r.next() as usize % 50),
                ]
            }),
        ),
        (
            "two rare words (rank 5,000+)",
            Box::new(|r| {
                vec![
                    vocabulary_word(5000 + r.next() as usize % 15000),
                    vocabulary_word(5000 + r.next() as usize % 15000),
                ]
            }),
        ),
        (
            "a 2-letter prefix",
            Box::new(|r| {
                let word = vocabulary_word(r.next() as usize % 90);
                vec![word[..2].to_owned()]
            }),
        ),
    ];
    println!("scenario: search, {queries} queries of each kind, 20 results at most, on {path}");
    let mut everything = Vec::new();
    for (label, make) in &kinds {
        let mut times = Vec::with_capacity(queries);
        let mut found = 0;
        for _ in 0..queries {
            let words = make(&mut rng);
            let started = Instant::now();
            found += runtime
                .block_on(store.search(None, words, flack::model::SEARCH_LIMIT))?
                .len();
            times.push(started.elapsed());
        }
        times.sort();
        let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
        println!(
            "{label}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({:.1} results on average)",
            at(0.5).as_secs_f64() * 1e3,
            at(0.99).as_secs_f64() * 1e3,
            times[times.len() - 1].as_secs_f64() * 1e3,
            found as f64 / queries as f64
        );
        everything.extend(times);
    }
    everything.sort();
    let at =
        |q: f64| everything[((everything.len() as f64 * q) as usize).min(everything.len() - 1)];
    println!(
        "all: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        everything[everything.len() - 1].as_secs_f64() * 1e3
    );
    Ok(())
}
