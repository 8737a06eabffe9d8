//! Nothing acknowledged is lost: the real server binary, on a database
//! file, takes 1,000 messages on several sockets and is killed (SIGKILL)
//! right after the last acknowledgement, or stopped gracefully; started
//! again on the same file, it has every acknowledged message once, in
//! order, under its number, and a client with an old cursor resumes with
//! exactly the events it missed.

mod common;

use common::{call, claim, create_channel, Client, TempDb};
use flack::model::Message;
use flack::protocol::{ClientFrame, Cursor, ServerEvent};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

const SOCKETS: usize = 4;
const PER_SOCKET: usize = 250;

struct Flack {
    child: Child,
    addr: SocketAddr,
}

impl Flack {
    async fn start(db: &TempDb) -> Flack {
        // Port 0: the system picks a free port, and the server says which
        // in its address file once it accepts connections.
        let addr_file = format!("{}.addr", db.path());
        let _ = std::fs::remove_file(&addr_file);
        let child = Command::new(env!("CARGO_BIN_EXE_flack"))
            .args(["--addr", "127.0.0.1:0", "--addr-file", &addr_file])
            .args(["--database", &db.path()])
            .args(["--config", "/nonexistent/Leptos.toml"])
            .args(["--send-per-second", "0", "--connections-per-ip", "0"])
            .args(["--claims-per-hour", "0"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("the server binary starts");
        let addr = common::listening_at(&addr_file).await;
        Flack { child, addr }
    }

    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    fn stop(mut self) {
        // SAFETY: kill(2) on our own child's pid.
        let status = unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        assert_eq!(status, 0);
        let exit = self.child.wait().unwrap();
        assert!(exit.success(), "a graceful stop exits cleanly: {exit:?}");
    }
}

/// Every stored message of "general", oldest first: the last 100, then
/// older pages until the start.
async fn everything(addr: SocketAddr) -> Vec<Message> {
    let recent = call(addr, "channel_history", "channel=general", None).await;
    let mut all: Vec<Message> = serde_json::from_value(recent.json()["messages"].clone()).unwrap();
    loop {
        let before = all.first().map_or(u64::MAX, |m| m.seq);
        let form = format!("channel=general&before={before}");
        let page = call(addr, "older_messages", &form, None).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let mut older: Vec<Message> =
            serde_json::from_value(page.json()["messages"].clone()).unwrap();
        let more = page.json()["more"].as_bool().unwrap();
        older.append(&mut all);
        all = older;
        if !more {
            return all;
        }
    }
}

async fn survives(graceful: bool) {
    let db = TempDb::new(if graceful { "stop" } else { "kill" });
    let server = Flack::start(&db).await;
    let ada = claim(server.addr, "ada").await;
    create_channel(server.addr, &ada, "general").await;
    let (_, epoch) = Client::hello_epoch(server.addr, None).await;

    // Several sockets send at once, each without waiting for its acks.
    let mut senders = Vec::new();
    for socket in 0..SOCKETS {
        let ada = ada.clone();
        let addr = server.addr;
        senders.push(tokio::spawn(async move {
            let mut client = Client::connect(addr, Some(&ada)).await;
            for i in 0..PER_SOCKET {
                client
                    .send(&ClientFrame::Send {
                        channel: "general".into(),
                        text: format!("socket {socket} message {i}"),
                        client_id: Some(format!("{socket}-{i}")),
                        thread: None,
                    })
                    .await;
            }
            let mut acked = HashMap::new();
            while acked.len() < PER_SOCKET {
                match client.next_in_channel().await {
                    ServerEvent::Ack { client_id, seq, .. } => {
                        acked.insert(client_id, seq);
                    }
                    other => panic!("expected acks, got {other:?}"),
                }
            }
            acked
        }));
    }
    let mut acked: HashMap<String, u64> = HashMap::new();
    for sender in senders {
        acked.extend(sender.await.unwrap());
    }
    // Right after the last acknowledgement.
    if graceful {
        server.stop();
    } else {
        server.kill();
    }
    assert_eq!(acked.len(), SOCKETS * PER_SOCKET);

    let server = Flack::start(&db).await;
    let stored = everything(server.addr).await;
    let seqs: Vec<u64> = stored.iter().map(|m| m.seq).collect();
    assert_eq!(
        seqs,
        (1..=(SOCKETS * PER_SOCKET) as u64).collect::<Vec<_>>(),
        "every message once, in order"
    );
    let by_seq: HashMap<u64, &str> = stored.iter().map(|m| (m.seq, m.text.as_str())).collect();
    for (client_id, seq) in &acked {
        let (socket, i) = client_id.split_once('-').unwrap();
        assert_eq!(
            by_seq[seq],
            format!("socket {socket} message {i}"),
            "acknowledged as {seq}"
        );
    }

    // A client that had seen up to 950 gets exactly the fifty after it.
    let (mut client, epoch_after) = Client::hello_epoch(server.addr, None).await;
    assert_eq!(epoch_after, epoch, "the same store, the same epoch");
    let events = client.resume("general", Cursor { epoch, seq: 950 }).await;
    let (resumed, replayed) = events.split_last().unwrap();
    assert_eq!(
        resumed,
        &ServerEvent::Resumed {
            channel: flack::model::ChannelName::parse("general").unwrap(),
            seq: 1000
        }
    );
    let replayed: Vec<u64> = replayed
        .iter()
        .map(|event| match event {
            ServerEvent::Message { message, .. } => message.seq,
            other => panic!("expected messages, got {other:?}"),
        })
        .collect();
    assert_eq!(replayed, (951..=1000).collect::<Vec<_>>());

    // Numbering goes on where it was; the same identity writes on.
    let mut ada_again = Client::connect(server.addr, Some(&ada)).await;
    ada_again.join("general").await;
    ada_again.say("general", "after the restart").await;
    match ada_again.next_in_channel().await {
        ServerEvent::Message { message, .. } => assert_eq!(message.seq, 1001),
        other => panic!("unexpected {other:?}"),
    }
    server.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_message_survives_sigkill() {
    survives(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_message_survives_a_graceful_stop() {
    survives(true).await;
}

/// `flack backup` copies the database of a server that is running and
/// taking messages; the copy opens and holds the messages it had.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backup_command_copies_a_live_server() {
    use flack::server::store::{SqliteStore, Store};
    let db = TempDb::new("live");
    let copy = TempDb::new("copy");
    let server = Flack::start(&db).await;
    let ada = claim(server.addr, "ada").await;
    create_channel(server.addr, &ada, "general").await;
    let mut client = Client::connect(server.addr, Some(&ada)).await;
    client.join("general").await;
    for i in 1..=120 {
        client
            .say("general", &format!("before the backup {i}"))
            .await;
    }
    for _ in 1..=120 {
        client.next_in_channel().await;
    }
    // More keeps coming while the copy is made.
    let writer = tokio::spawn(async move {
        for i in 1..=200 {
            client
                .say("general", &format!("during the backup {i}"))
                .await;
        }
        client
    });
    let status = Command::new(env!("CARGO_BIN_EXE_flack"))
        .args([
            "--database",
            &db.path(),
            "--config",
            "/nonexistent/Leptos.toml",
        ])
        .args(["backup", &copy.path()])
        .status()
        .unwrap();
    assert!(status.success(), "flack backup: {status:?}");
    writer.await.unwrap();
    server.kill();

    let restored = SqliteStore::open(&copy.path()).unwrap();
    let loaded = restored.load(100).await.unwrap();
    let general = &loaded.channels[0];
    assert!(general.last_seq >= 120, "everything acknowledged before it");
    let (older, _) = restored
        .older(general.channel.id, general.last_seq + 1, 1000)
        .await
        .unwrap();
    let seqs: Vec<u64> = older.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, (1..=general.last_seq).collect::<Vec<_>>());
    assert_eq!(older[0].text.as_str(), "before the backup 1");
    assert_eq!(loaded.identities.len(), 1, "Ada's identity is in the copy");
}
