//! A gateway over ten `ringgate node` processes on loopback, driven through the
//! AWS SDK and raw signed requests: pieces spread over distinct nodes and
//! failure domains; nodes killed during a PUT and during a GET (up to n−o for
//! a write, n−k for a read) without a wrong byte; a PUT that loses too many
//! nodes fails with nothing visible and nothing left behind; damaged and lost
//! pieces found by the audit and rebuilt to full health; a stopped (slow) node
//! cut off by the long tail on writes and overtaken by the hedge on reads.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{bytes, get_bytes, put_bytes, unsigned_put_head, Server};

/// One `ringgate node` process.
struct Node {
    child: Option<Child>,
    addr: SocketAddr,
    data: PathBuf,
}

/// Storage nodes sharing one cluster key, each with its own data folder.
struct Nodes {
    dir: tempfile::TempDir,
    key: PathBuf,
    nodes: Vec<Node>,
}

impl Nodes {
    fn start(count: usize) -> Nodes {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("cluster.key");
        let mut secret = [0u8; 32];
        std::fs::File::open("/dev/urandom")
            .unwrap()
            .read_exact(&mut secret)
            .unwrap();
        std::fs::write(
            &key,
            format!("{}\n", ringgate::pipeline::checksum::hex(&secret)),
        )
        .unwrap();
        let mut nodes = Nodes {
            nodes: (0..count)
                .map(|i| Node {
                    child: None,
                    addr: "127.0.0.1:0".parse().unwrap(),
                    data: dir.path().join(format!("node{i}")),
                })
                .collect(),
            key,
            dir,
        };
        for i in 0..count {
            nodes.issue_key(i);
            nodes.launch(i);
        }
        nodes
    }

    /// Gives node `i` its own key, named `node{i}`, with `ringgate node-key`:
    /// nodes never see the cluster key.
    fn issue_key(&self, i: usize) {
        let data = &self.nodes[i].data;
        std::fs::create_dir_all(data).unwrap();
        let status = Command::new(env!("CARGO_BIN_EXE_ringgate"))
            .args(["node-key", &format!("node{i}"), "--cluster-key"])
            .arg(&self.key)
            .arg("--out")
            .arg(data.join("node.key"))
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Starts node `i` (again), on its old port if it had one.
    fn launch(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        let mut child = Command::new(env!("CARGO_BIN_EXE_ringgate"))
            .args(["node", "--cores", "1", "--listen"])
            .arg(node.addr.to_string())
            .arg("--data")
            .arg(&node.data)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("ringgate node starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.split("listening on ").nth(1) {
                    let _ = tx.send(addr.trim().to_string());
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the node prints its address");
        node.addr = addr.parse().unwrap();
        node.child = Some(child);
    }

    /// `--node NAME=ADDR@DOMAIN` for every node; domains round-robin if given.
    fn gateway_args(&self, domains: usize) -> Vec<String> {
        let mut args = vec!["--cluster-key".to_string(), self.key.display().to_string()];
        for (i, node) in self.nodes.iter().enumerate() {
            args.push("--node".into());
            args.push(match domains {
                0 => format!("node{i}={}", node.addr),
                d => format!("node{i}={}@rack{}", node.addr, i % d),
            });
        }
        args
    }

    fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn signal(&self, i: usize, signal: i32) {
        let child = self.nodes[i].child.as_ref().expect("node runs");
        unsafe {
            libc::kill(child.id() as i32, signal);
        }
    }

    /// Committed piece files on node `i`, by (segment hex, piece index).
    fn pieces(&self, i: usize) -> BTreeMap<(String, u16), PathBuf> {
        let mut out = BTreeMap::new();
        let Ok(fan_outs) = std::fs::read_dir(&self.nodes[i].data) else {
            return out;
        };
        for fan_out in fan_outs.flatten().filter(|e| e.path().is_dir()) {
            for file in std::fs::read_dir(fan_out.path()).unwrap().flatten() {
                let name = file.file_name().to_string_lossy().to_string();
                if name.ends_with(".tmp") {
                    continue;
                }
                if let Some((segment, piece)) = name.split_once('.') {
                    if let Ok(piece) = piece.parse() {
                        out.insert((segment.to_string(), piece), file.path());
                    }
                }
            }
        }
        out
    }

    /// Every committed piece on every node's disk: (node, segment, piece).
    fn all_pieces(&self) -> BTreeSet<(usize, String, u16)> {
        (0..self.nodes.len())
            .flat_map(|i| {
                self.pieces(i)
                    .into_keys()
                    .map(move |(segment, piece)| (i, segment, piece))
            })
            .collect()
    }

    /// Which node holds each piece of each segment.
    fn placements(&self) -> BTreeMap<String, Vec<(u16, usize)>> {
        let mut out: BTreeMap<String, Vec<(u16, usize)>> = BTreeMap::new();
        for (node, segment, piece) in self.all_pieces() {
            out.entry(segment).or_default().push((piece, node));
        }
        out
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                unsafe {
                    libc::kill(child.id() as i32, libc::SIGCONT);
                }
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        let _ = &self.dir;
    }
}

/// A gateway over `nodes` at 4/6/8 with 4 MiB segments; health checked every
/// second unless `extra` says otherwise.
fn gateway(nodes: &Nodes, domains: usize, extra: &[&str]) -> Server {
    let mut args: Vec<String> = vec![
        "--erasure".into(),
        "4/6/8".into(),
        "--segment-size".into(),
        "4MiB".into(),
    ];
    if !extra.contains(&"--health-interval-secs") {
        args.extend(["--health-interval-secs".into(), "1".into()]);
    }
    args.extend(nodes.gateway_args(domains));
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    Server::start(&refs)
}

/// Sum of a counter over every core, from the admin listener's /metrics.
fn metric(server: &Server, name: &str) -> u64 {
    let admin = std::fs::read_to_string(server.data.join("admin.addr")).unwrap();
    let mut stream = std::net::TcpStream::connect(admin.trim()).unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nhost: admin\r\nconnection: close\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    text.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// `ringgate repair ARGS --data <gateway data>`: its standard output.
fn repair(server: &Server, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_ringgate"))
        .arg("repair")
        .args(args)
        .arg("--data")
        .arg(&server.data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ringgate repair {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A full audit pass (every share checked), started now and waited for.
fn repair_pass(server: &Server) -> serde_json::Value {
    let text = repair(
        server,
        &[
            "--now",
            "--full",
            "--wait",
            "--json",
            "--timeout-secs",
            "120",
        ],
    );
    let status: serde_json::Value = serde_json::from_str(&text).unwrap();
    status["last"].clone()
}

/// A PUT streamed over a raw connection (UNSIGNED-PAYLOAD), calling `between`
/// with the bytes sent so far after each MiB; returns the status and answer.
fn streamed_put(
    server: &Server,
    path: &str,
    data: &[u8],
    mut between: impl FnMut(usize),
) -> (u16, String) {
    let head = unsigned_put_head(server, path, data.len() as u64);
    let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    let mut sent = 0;
    for chunk in data.chunks(1 << 20) {
        if stream.write_all(chunk).is_err() {
            break;
        }
        sent += chunk.len();
        between(sent);
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_nodes_hold_pieces_spread_over_nodes_and_domains() {
    let nodes = Nodes::start(10);
    // Five failure domains of two nodes each.
    let server = gateway(&nodes, 5, &[]);
    let s3 = server.client();
    s3.create_bucket().bucket("spread").send().await.unwrap();
    let objects = [
        ("tiny", bytes(100, 1)),
        ("medium", bytes(3_000_000, 2)),
        ("big", bytes(21 << 20, 3)),
    ];
    for (key, data) in &objects {
        put_bytes(&s3, "spread", key, data).await;
    }
    for (key, data) in &objects {
        assert!(
            get_bytes(&s3, "spread", key, None).await == *data,
            "{key} differs"
        );
    }
    let range = get_bytes(
        &s3,
        "spread",
        "big",
        Some(format!("bytes={}-{}", (4 << 20) - 100, (8 << 20) + 100)),
    )
    .await;
    assert_eq!(range, &objects[2].1[(4 << 20) - 100..=(8 << 20) + 100]);

    // 1 + 6 segments (the tiny object is inline), 6 to 8 pieces each, on
    // distinct nodes, never three in one domain (8 pieces over 5 domains).
    let placements = nodes.placements();
    assert_eq!(placements.len(), 7, "{placements:?}");
    let mut used = BTreeSet::new();
    for (segment, pieces) in &placements {
        assert!((6..=8).contains(&pieces.len()), "{segment}: {pieces:?}");
        let distinct: BTreeSet<usize> = pieces.iter().map(|p| p.1).collect();
        assert_eq!(
            distinct.len(),
            pieces.len(),
            "{segment}: two pieces on one node"
        );
        let mut per_domain = [0; 5];
        for (_, node) in pieces {
            per_domain[node % 5] += 1;
            used.insert(*node);
        }
        assert!(
            per_domain.iter().all(|&c| c <= 2),
            "{segment}: {per_domain:?}"
        );
    }
    assert!(used.len() >= 9, "pieces reached only nodes {used:?}");
    // The stores as the admin API sees them: ten nodes, all up.
    let status: serde_json::Value =
        serde_json::from_str(&repair(&server, &["--stores", "--json"])).unwrap();
    let stores = status["stores"].as_array().unwrap();
    assert_eq!(stores.len(), 10);
    assert!(stores
        .iter()
        .all(|s| s["alive"] == true && s["kind"] == "node"));
}

#[tokio::test(flavor = "multi_thread")]
async fn nodes_killed_during_put_and_get_cost_no_byte() {
    let mut nodes = Nodes::start(10);
    // Every live node lands its piece (a long linger), so each segment of
    // the object keeps at least k pieces after n − k nodes are gone.
    let server = gateway(&nodes, 0, &["--linger-ms", "20000"]);
    let s3 = server.client();
    s3.create_bucket().bucket("kill").send().await.unwrap();

    // A PUT that loses n−o = 2 nodes a third of the way in.
    let data = bytes(40 << 20, 4);
    let (status, answer) = streamed_put(&server, "/kill/during-put", &data, |sent| {
        if sent == 14 << 20 {
            nodes.kill(0);
            nodes.kill(1);
        }
    });
    assert_eq!(status, 200, "{answer}");
    assert!(get_bytes(&s3, "kill", "during-put", None).await == data);

    // A GET that loses two more (n−k = 4 in all) after its first 8 MiB.
    let mut response = s3
        .get_object()
        .bucket("kill")
        .key("during-put")
        .send()
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut killed = false;
    while let Some(chunk) = response.body.next().await {
        got.extend_from_slice(&chunk.unwrap());
        if !killed && got.len() >= 8 << 20 {
            nodes.kill(2);
            nodes.kill(3);
            killed = true;
        }
    }
    assert!(killed);
    assert!(got == data, "the GET that lost nodes returned other bytes");

    // Six nodes left, o = 6: a PUT that loses one more cannot be durable.
    let before = nodes.all_pieces();
    let doomed = bytes(24 << 20, 5);
    let (status, answer) = streamed_put(&server, "/kill/doomed", &doomed, |sent| {
        if sent == 6 << 20 {
            nodes.kill(4);
        }
    });
    assert!(status >= 500 || status == 0, "{status}: {answer}");
    let head = s3.head_object().bucket("kill").key("doomed").send().await;
    assert!(head.is_err(), "a failed PUT is visible");
    let listed = s3.list_objects_v2().bucket("kill").send().await.unwrap();
    assert_eq!(listed.key_count(), Some(1));
    // Nothing is left: the live nodes lose what the failed PUT wrote, and
    // after a restart the sweep removes what reached the nodes that died.
    let live: Vec<usize> = (5..10).collect();
    let on_live = |pieces: &BTreeSet<(usize, String, u16)>| -> BTreeSet<(usize, String, u16)> {
        pieces
            .iter()
            .filter(|p| live.contains(&p.0))
            .cloned()
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while on_live(&nodes.all_pieces()) != on_live(&before) {
        assert!(
            Instant::now() < deadline,
            "the failed PUT left pieces on live nodes"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(s3);
    let mut server = server;
    server.kill_hard();
    for i in 0..5 {
        nodes.launch(i);
    }
    server.launch();
    let after = nodes.all_pieces();
    assert!(
        after.is_subset(&before),
        "left behind: {:?}",
        after.difference(&before).collect::<Vec<_>>()
    );
    assert!(get_bytes(&server.client(), "kill", "during-put", None).await == data);
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_finds_damage_and_repair_restores_every_segment() {
    let mut nodes = Nodes::start(10);
    // Repair anything below n, and count a dead node's pieces lost at once;
    // health checks only at start (a loaded node that missed two checks would
    // count as lost too): the audit marks the dead node down itself.
    let mut server = gateway(
        &nodes,
        0,
        &[
            "--repair-threshold",
            "7",
            "--offline-grace-secs",
            "0",
            "--health-interval-secs",
            "3600",
        ],
    );
    let s3 = server.client();
    s3.create_bucket().bucket("heal").send().await.unwrap();
    let objects: Vec<(String, Vec<u8>)> = (0..3)
        .map(|i| (format!("obj{i}"), bytes(9 << 20, 10 + i)))
        .collect();
    for (key, data) in &objects {
        put_bytes(&s3, "heal", key, data).await;
    }
    let healthy_pass = repair_pass(&server);
    let segments = healthy_pass["segments"].as_u64().unwrap();
    assert_eq!(segments, 9, "{healthy_pass}");

    // Node 0 loses every piece file, node 1 has each corrupted mid-file, and
    // node 2 dies.
    let (mut lost, mut corrupted) = (0, 0);
    for path in nodes.pieces(0).values() {
        std::fs::remove_file(path).unwrap();
        lost += 1;
    }
    for path in nodes.pieces(1).values() {
        let mut data = std::fs::read(path).unwrap();
        let mid = data.len() / 2;
        for b in &mut data[mid..mid + 4096] {
            *b ^= 0xa5;
        }
        std::fs::write(path, data).unwrap();
        corrupted += 1;
    }
    nodes.kill(2);
    assert!(lost > 0 && corrupted > 0);
    for (key, data) in &objects {
        assert!(
            get_bytes(&s3, "heal", key, None).await == *data,
            "{key} before repair"
        );
    }

    let first = repair_pass(&server);
    assert_eq!(first["pieces_missing"].as_u64(), Some(lost), "{first}");
    assert_eq!(first["pieces_corrupt"].as_u64(), Some(corrupted), "{first}");
    assert!(first["pieces_lost"].as_u64().unwrap() > 0, "{first}");
    assert_eq!(
        first["segments_repaired"].as_u64(),
        Some(segments),
        "{first}"
    );
    assert_eq!(first["segments_repair_failed"].as_u64(), Some(0), "{first}");
    assert_eq!(first["segments_lost"].as_u64(), Some(0), "{first}");
    let last = repair_pass(&server);
    assert_eq!(last["segments_repaired"].as_u64(), Some(0), "{last}");
    assert_eq!(last["pieces_missing"].as_u64(), Some(0), "{last}");
    assert_eq!(last["pieces_corrupt"].as_u64(), Some(0), "{last}");
    assert_eq!(
        last["segments_by_healthy_pieces"],
        serde_json::json!({ "8": segments }),
        "{last}"
    );
    for (key, data) in &objects {
        assert!(
            get_bytes(&s3, "heal", key, None).await == *data,
            "{key} after repair"
        );
    }

    // Checked apart from the gateway: every segment the metadata names has
    // n = 8 pieces on distinct live nodes, each whole and with the digest
    // the metadata recorded, none on the dead node.
    drop(s3);
    server.stop(Duration::from_secs(10));
    use ringgate::meta::MetaBackend;
    let meta = ringgate::meta::RedbStore::open(server.data.join("meta.redb")).unwrap();
    let dirs: BTreeMap<u32, usize> = meta
        .stores()
        .unwrap()
        .iter()
        .map(|record| {
            let node = nodes
                .nodes
                .iter()
                .position(|n| n.addr.to_string() == record.location)
                .unwrap();
            (record.id, node)
        })
        .collect();
    let all = meta.segments_after(None, 1000).unwrap();
    assert_eq!(all.len() as u64, segments);
    for (id, info) in all {
        assert_eq!(info.pieces.len(), 8, "segment {}", id.to_hex());
        let holders: BTreeSet<usize> = info.pieces.iter().map(|p| dirs[&p.store]).collect();
        assert_eq!(holders.len(), 8, "segment {}: shared nodes", id.to_hex());
        assert!(
            !holders.contains(&2),
            "segment {} on the dead node",
            id.to_hex()
        );
        for placement in &info.pieces {
            let node = dirs[&placement.store];
            let path = piece_path(&nodes.nodes[node].data, &id.to_hex(), placement.piece);
            let piece = std::fs::read(&path).unwrap();
            let (header, footer, bad) = ringgate::pieces::format::verify_piece(&piece).unwrap();
            assert!(bad.is_empty(), "{}: damaged shares {bad:?}", path.display());
            assert_eq!(header.id.piece, placement.piece);
            assert_eq!(footer.digest, placement.digest, "{}", path.display());
        }
    }
}

fn piece_path(node_data: &Path, segment_hex: &str, piece: u16) -> PathBuf {
    node_data
        .join(&segment_hex[..2])
        .join(format!("{segment_hex}.{piece}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stopped_node_is_cut_off_on_writes_and_overtaken_on_reads() {
    let nodes = Nodes::start(10);
    // Health checks only at start: only the long tail and the hedge can
    // route around the stopped node.
    let server = gateway(
        &nodes,
        0,
        &[
            "--piece-timeout-ms",
            "30000",
            "--health-interval-secs",
            "3600",
        ],
    );
    let s3 = server.client();
    s3.create_bucket().bucket("slow").send().await.unwrap();
    let data = bytes(8 << 20, 20);
    put_bytes(&s3, "slow", "before", &data).await;

    // Reads: stop the node holding data piece 0 of the first segment. With a
    // piece timeout of 30 s, only the hedge (k + 1 reads) can finish the GET
    // without it: it decodes from a parity piece and cancels nothing it needs.
    let placements = nodes.placements();
    let (_, pieces) = placements.iter().next().unwrap();
    let slow = pieces.iter().find(|(piece, _)| *piece == 0).unwrap().1;
    nodes.signal(slow, libc::SIGSTOP);
    let rebuilt_before = metric(&server, "ringgate_stripes_rebuilt_total");
    assert!(get_bytes(&s3, "slow", "before", None).await == data);
    assert!(
        metric(&server, "ringgate_stripes_rebuilt_total") > rebuilt_before,
        "the GET did not use parity in place of the stopped node's piece"
    );

    // Writes: while the node is stopped, a PUT completes without it. Each
    // of its 8 segments places 8 of the 10 nodes, so the stopped one is all
    // but surely among them; its piece never gets past the node's HELLO,
    // lags, and is cut off by the long tail.
    let cancelled_before = metric(&server, "ringgate_pieces_cancelled_total");
    let on_slow_before = nodes.pieces(slow).len();
    let new = bytes(32 << 20, 21);
    put_bytes(&s3, "slow", "during", &new).await;
    let cancelled = metric(&server, "ringgate_pieces_cancelled_total") - cancelled_before;
    assert!(cancelled > 0, "no piece was cut off by the long tail");
    let status: serde_json::Value =
        serde_json::from_str(&repair(&server, &["--stores", "--json"])).unwrap();
    let stores = status["stores"].as_array().unwrap();
    assert!(
        stores.iter().all(|s| s["alive"] == true),
        "the long tail, not the health check, routed around the node: {stores:?}"
    );
    nodes.signal(slow, libc::SIGCONT);
    // Whatever the stopped node had received of the new object can never
    // become a piece: no COMMIT was sent for it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let on_slow_after = nodes.pieces(slow).len();
    assert_eq!(
        on_slow_after, on_slow_before,
        "the stopped node committed a piece"
    );
    assert!(get_bytes(&s3, "slow", "during", None).await == new);
}
