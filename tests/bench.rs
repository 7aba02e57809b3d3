//! `ringgate bench`: its pure parts on data tables (sizes, mixes, the
//! histogram, the content generator and verifier, response heads), every
//! operation and payload mode against the real `ringgate serve` binary (with
//! `--server-pid` watching it), and a lying server whose corrupted GET
//! bodies must all be caught.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ringgate::bench::content::{Content, Corrupt, Verifier, BLOCK_BYTES};
use ringgate::bench::hist::{bucket_of, bucket_range, Histogram};
use ringgate::bench::mix::{Mix, MixError, MixOp};
use ringgate::bench::s3::{content_of_key, ObjectRef};
use ringgate::bench::server_usage::{parse_stat_ticks, parse_status_bytes};
use ringgate::bench::size::{parse_bytes, parse_duration, ParseError, SizeSpec};
use ringgate::bench::wire::parse_response_head;
use ringgate::bench::{run_summary, BenchArgs, Summary};

// ---------------------------------------------------------------- harness

/// The real server on an ephemeral port with a fresh data folder.
struct Server {
    child: Child,
    endpoint: String,
    credentials: PathBuf,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let mut child = Command::new(env!("CARGO_BIN_EXE_ringgate"))
            .args(["serve", "--listen", "127.0.0.1:0", "--cores", "1", "--data"])
            .arg(&data)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("ringgate starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let _ = tx.send(rest.split(' ').next().unwrap().to_string());
                }
            }
        });
        let endpoint = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("ringgate prints its address");
        Server {
            child,
            endpoint,
            credentials: data.join("credentials"),
            _dir: dir,
        }
    }

    /// Runs `bench` with the server's endpoint and credentials, then `args`
    /// (a command line split at spaces).
    fn bench(&self, args: &str) -> Summary {
        bench(&self.endpoint, &self.credentials, args)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let _ = self.child.wait();
    }
}

fn bench_args(endpoint: &str, credentials: &Path, args: &str) -> BenchArgs {
    let credentials = credentials.display().to_string();
    let mut argv = vec![
        "bench",
        "--endpoint",
        endpoint,
        "--profile",
        "ringgate",
        "--credentials-file",
        &credentials,
        "--threads",
        "2",
        "--quiet",
    ];
    argv.extend(args.split_whitespace());
    BenchArgs::try_parse_from(&argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"))
}

fn bench(endpoint: &str, credentials: &Path, args: &str) -> Summary {
    let args = bench_args(endpoint, credentials, args);
    run_summary(&args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn assert_clean(s: &Summary) {
    assert_eq!(s.errors.total, 0, "{}", s.text());
    assert!(s.errors.details.is_empty(), "{}", s.text());
    assert!(s.cleanup_errors.is_empty(), "{}", s.text());
}

// ------------------------------------------------------ against the server

/// Every operation with small sizes, checked for op counts, the JSON shape
/// and the plot; then virtual-host addressing.
#[test]
fn every_operation_runs_clean_against_the_server() {
    let server = Server::start(&["--domain", "localhost"]);
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("put", "--size 1KiB-64KiB", 40),
        ("get", "--size 100KiB --objects 8", 40),
        ("stat", "--size 1KiB --objects 8", 40),
        ("list", "--size 10 --objects 30 --max-keys 7", 40),
        ("delete", "--size 1KiB", 40),
        ("multipart", "--size 11MiB --part-size 5MiB", 3),
        (
            "mixed",
            "--size 1KiB-32KiB:log --mix get=50,put=20,stat=10,delete=10,list=10 --range 1-4KiB",
            200,
        ),
    ];
    for (op, extra, ops) in cases {
        let plot = dir.path().join(format!("{op}.svg"));
        let s = server.bench(&format!(
            "{op} --ops {ops} --concurrency 4 --plot {} {extra}",
            plot.display()
        ));
        assert_clean(&s);
        assert_eq!(s.ops, ops, "{op}: {}", s.text());
        assert_eq!(s.operation, op);
        let svg = std::fs::read_to_string(&plot).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("polyline"), "{op}");

        let json = serde_json::to_value(&s).unwrap();
        let keys = "operation endpoint bucket threads concurrency duration_s ops bytes \
                    throughput ops_per_s latency_ms operations errors cpu timeline";
        for key in keys.split_whitespace() {
            assert!(json.get(key).is_some(), "{op}: no {key} in {json}");
        }
        for key in ["p50", "p90", "p99", "p99_9", "max", "mean"] {
            let v = json["latency_ms"][key].as_f64().unwrap();
            assert!(v > 0.0, "{op} {key}");
        }
        assert!(json["throughput"]["mb_s"].is_number());
        assert!(json["throughput"]["mib_s"].is_number());
        assert!(json["cpu"]["total_s"].is_number());
        assert!(json["cpu"]["s_per_1000_ops"].as_f64().unwrap() > 0.0);
        assert_eq!(json["errors"]["total"], 0);
        assert!(!json["timeline"].as_array().unwrap().is_empty(), "{op}");
        match op {
            "get" => {
                assert_eq!(s.bytes, 40 * 100 * 1024);
                assert!(s.ttfb_ms.is_some());
                assert_eq!(s.prepared.as_ref().unwrap().objects, 8);
                assert!(json["cpu"]["s_per_gb"].as_f64().unwrap() > 0.0);
            }
            "multipart" => {
                assert_eq!(s.operations["part"].ops, 9, "{}", s.text());
                assert_eq!(s.bytes, 3 * (11 << 20));
            }
            "mixed" => {
                for kind in ["get", "put", "stat", "delete", "list"] {
                    assert!(s.operations.contains_key(kind), "{kind}: {}", s.text());
                }
            }
            _ => {}
        }
    }

    // Virtual-host addressing: the server knows its domain, the bucket
    // travels in the Host header.
    let endpoint = server.endpoint.replace("127.0.0.1", "localhost");
    let s = bench(
        &endpoint,
        &server.credentials,
        "get --virtual-host --size 20KiB --objects 4 --ops 10",
    );
    assert_clean(&s);
    assert_eq!(s.ops, 10);
}

#[test]
fn every_payload_mode_is_accepted_by_the_server() {
    let server = Server::start(&[]);
    let modes =
        "signed unsigned streaming-signed streaming-signed-trailer streaming-unsigned-trailer";
    for mode in modes.split_whitespace() {
        // Sizes across chunk boundaries: empty, one byte, several 8 KiB chunks.
        for size in ["0", "1", "8KiB", "50000"] {
            let s = server.bench(&format!(
                "put --payload {mode} --size {size} --chunk-size 8KiB --ops 4"
            ));
            assert_clean(&s);
            assert_eq!(s.ops, 4, "{mode} {size}");
        }
        // Written in this mode, read back and checked.
        let s = server.bench(&format!(
            "get --payload {mode} --size 1-300KiB --objects 6 --ops 12"
        ));
        assert_clean(&s);
        assert_eq!(s.ops, 12, "{mode}");
        let s = server.bench(&format!(
            "multipart --payload {mode} --size 6MiB --part-size 5MiB --ops 1"
        ));
        assert_clean(&s);
        assert_eq!(s.ops, 1, "{mode}");
    }
}

#[test]
fn a_kept_bucket_is_reused_ranges_are_checked_and_bad_credentials_stop_the_run() {
    let server = Server::start(&[]);
    let s = server.bench("put --bucket kept --keep --size 3KiB --ops 5");
    assert_clean(&s);
    assert!(!s.cleaned_up);
    // The bucket exists now: a second run uses it and removes only its own keys.
    let s = server.bench("get --bucket kept --size 300KiB --objects 4 --ops 30 --range 1-70000");
    assert_clean(&s);
    assert_eq!(s.ops, 30);
    assert!(s.bytes <= 30 * 70000);
    let s = server.bench("list --bucket kept --objects 3 --size 1 --ops 3");
    assert_clean(&s);

    // A run that cannot set up reports why and counts nothing.
    let mut args = bench_args(&server.endpoint, &server.credentials, "put --ops 1");
    args.access_key = Some("RGNOSUCHKEY".into());
    args.secret_key = Some("wrong".into());
    args.profile = None;
    let e = run_summary(&args).unwrap_err().to_string();
    assert!(e.contains("bucket failed") && e.contains("403"), "{e}");
}

/// The access key id and secret of the `ringgate` profile `serve` writes.
fn profile_keys(credentials: &Path) -> (String, String) {
    let text = std::fs::read_to_string(credentials).unwrap();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.split_once('=').filter(|(k, _)| k.trim() == name))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_else(|| panic!("{name} in {text}"))
    };
    (field("aws_access_key_id"), field("aws_secret_access_key"))
}

/// Version ids per key of `bucket`, by ListObjectVersions through the SDK.
fn versions_per_key(server: &Server, bucket: &str) -> HashMap<String, usize> {
    let (key, secret) = profile_keys(&server.credentials);
    let config = aws_sdk_s3::Config::builder()
        .endpoint_url(&server.endpoint)
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            key, secret, None, None, "test",
        ))
        .force_path_style(true)
        .build();
    let s3 = aws_sdk_s3::Client::from_conf(config);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listed = runtime
        .block_on(s3.list_object_versions().bucket(bucket).send())
        .unwrap();
    let mut per_key = HashMap::new();
    for version in listed.versions() {
        *per_key
            .entry(version.key().unwrap().to_string())
            .or_default() += 1;
    }
    per_key
}

/// `--versions`: a versioned bucket, every working-set object written N
/// times, a put that adds versions to them, and everything left in place.
#[test]
fn versions_build_a_history_and_put_adds_to_it() {
    let server = Server::start(&[]);
    let s = server.bench("get --bucket hist --versions 3 --objects 4 --size 1KiB --ops 6");
    assert_clean(&s);
    assert!(!s.cleaned_up);
    assert_eq!(s.prepared.as_ref().map(|p| p.objects), Some(4));
    let counts = versions_per_key(&server, "hist");
    assert_eq!(counts.len(), 4, "{counts:?}");
    assert!(counts.values().all(|&n| n == 3), "{counts:?}");

    let s = server.bench("put --bucket hist2 --versions 2 --objects 3 --size 1KiB --ops 9");
    assert_clean(&s);
    assert_eq!(s.ops, 9);
    let counts = versions_per_key(&server, "hist2");
    assert_eq!(counts.len(), 3, "{counts:?}");
    assert_eq!(counts.values().sum::<usize>(), 3 * 2 + 9, "{counts:?}");
}

#[test]
fn https_with_a_given_ca() {
    let dir = tempfile::tempdir().unwrap();
    let names = vec!["127.0.0.1".into(), "localhost".into()];
    let cert = rcgen::generate_simple_self_signed(names).unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let server = Server::start(&[
        "--tls-cert",
        cert_path.to_str().unwrap(),
        "--tls-key",
        key_path.to_str().unwrap(),
    ]);
    assert!(server.endpoint.starts_with("https://"));
    let s = server.bench(&format!(
        "get --ca-file {} --size 1-2MiB --objects 4 --ops 12 --payload streaming-signed",
        cert_path.display()
    ));
    assert_clean(&s);
    assert_eq!(s.ops, 12);
}

/// `--server-pid`: the server's CPU time and peak RSS over the timed phase
/// join the load generator's own in the summary and the JSON; without the
/// flag there is no `server`, and a pid that is no process stops the run
/// before it starts.
#[test]
fn server_pid_adds_the_servers_cpu_time_and_peak_memory() {
    let server = Server::start(&[]);
    let pid = server.child.id();
    let s = server.bench(&format!(
        "put --size 1MiB --ops 40 --concurrency 4 --server-pid {pid}"
    ));
    assert_clean(&s);
    let usage = s.server.as_ref().expect("a server section");
    assert_eq!(usage.pid, pid);
    let cpu = &usage.cpu;
    assert!(cpu.user_s >= 0.0 && cpu.system_s >= 0.0, "{}", s.text());
    assert!(
        (cpu.total_s - cpu.user_s - cpu.system_s).abs() < 1e-9,
        "{}",
        s.text()
    );
    // 40 MiB sealed, erasure coded and written cost the server some CPU.
    assert!(cpu.total_s > 0.0, "{}", s.text());
    assert!(cpu.s_per_gb.unwrap() > 0.0 && cpu.s_per_1000_ops.unwrap() > 0.0);
    // A live gateway holds more than a MiB and far less than this machine.
    assert!(
        (1 << 20..16 << 30).contains(&usage.rss_peak_bytes),
        "{}",
        s.text()
    );
    assert!(s.text().contains(&format!("server       pid {pid}: cpu")));
    let json = serde_json::to_value(&s).unwrap();
    for key in "pid user_s system_s total_s cores_busy s_per_gb s_per_1000_ops rss_peak_bytes rss_peak_source"
        .split_whitespace()
    {
        assert!(json["server"].get(key).is_some(), "no server.{key} in {json}");
    }

    let s = server.bench("stat --size 1KiB --objects 4 --ops 8");
    assert!(s.server.is_none());
    assert!(serde_json::to_value(&s).unwrap()["server"].is_null());

    // Far above any pid_max: no such process.
    let args = bench_args(
        &server.endpoint,
        &server.credentials,
        "put --ops 1 --server-pid 2000000000",
    );
    let e = run_summary(&args).unwrap_err().to_string();
    assert!(e.contains("server pid 2000000000"), "{e}");
}

/// Story: 64 concurrent 64 MiB PUTs held 2.3 GiB in one core's pipeline
/// buffers; a core now runs at most `--uploads-per-core-max` uploads and the
/// rest wait with their bodies unread. With one slot, concurrent PUTs and
/// multipart parts still all finish.
#[test]
fn uploads_beyond_a_cores_slots_wait_their_turn() {
    let server = Server::start(&["--uploads-per-core-max", "1"]);
    let s = server.bench("put --size 1MiB --ops 24 --concurrency 8");
    assert_clean(&s);
    assert_eq!(s.ops, 24);
    let s = server.bench("multipart --size 11MiB --part-size 5MiB --ops 3 --concurrency 3");
    assert_clean(&s);
    assert_eq!(s.ops, 3);
}

// ----------------------------------------------------- a server that lies

/// Story: a load generator that trusts what it reads reports a broken
/// server's speed as throughput. This server stores what is PUT and answers
/// every GET with it, but with one bit flipped (a different one each time),
/// one byte too many or one too few; every GET must count as `corrupt` and
/// none as a success.
#[derive(Clone, Copy)]
enum Lie {
    FlipBit,
    ExtraByte,
    Truncate,
}

fn lying_server(lie: Lie) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let objects: Arc<Mutex<HashMap<String, Vec<u8>>>> = Arc::default();
    let served = Arc::new(AtomicU64::new(0));
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let (objects, served) = (objects.clone(), served.clone());
            std::thread::spawn(move || serve_lies(stream, lie, &objects, &served));
        }
    });
    addr
}

fn serve_lies(
    stream: TcpStream,
    lie: Lie,
    objects: &Mutex<HashMap<String, Vec<u8>>>,
    served: &AtomicU64,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut stream = stream;
    loop {
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut line = Vec::new();
            if reader.read_until(b'\n', &mut line).unwrap_or(0) == 0 {
                return;
            }
            head.extend_from_slice(&line);
        }
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut request = httparse::Request::new(&mut headers);
        request.parse(&head).unwrap();
        let (method, path) = (
            request.method.unwrap().to_string(),
            request.path.unwrap().to_string(),
        );
        let length: usize = request
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("content-length"))
            .map_or(0, |h| {
                std::str::from_utf8(h.value).unwrap().parse().unwrap()
            });
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let path = path.split('?').next().unwrap().to_string();
        let response = match method.as_str() {
            "PUT" => {
                objects.lock().unwrap().insert(path, body);
                b"HTTP/1.1 200 OK\r\nETag: \"e\"\r\nContent-Length: 0\r\n\r\n".to_vec()
            }
            "GET" => match objects.lock().unwrap().get(&path).cloned() {
                Some(mut data) => {
                    let n = served.fetch_add(1, Ordering::SeqCst) as usize;
                    match lie {
                        Lie::FlipBit => {
                            let at = (n * 7919) % data.len();
                            data[at] ^= 1 << (n % 8);
                        }
                        Lie::ExtraByte => data.push(0),
                        Lie::Truncate => {
                            data.pop();
                        }
                    }
                    let mut r =
                        format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", data.len())
                            .into_bytes();
                    r.extend_from_slice(&data);
                    r
                }
                None => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(),
            },
            _ => b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_vec(),
        };
        if stream.write_all(&response).is_err() {
            return;
        }
    }
}

#[test]
fn corrupted_get_bodies_are_caught() {
    for lie in [Lie::FlipBit, Lie::ExtraByte, Lie::Truncate] {
        let addr = lying_server(lie);
        let command = format!(
            "bench --endpoint http://{addr} --access-key AK --secret-key SK --quiet --threads 1 \
             get --bucket liar --keep --objects 4 --size 1-10KiB --ops 20 --concurrency 2"
        );
        let argv = command.split_whitespace();
        let args = BenchArgs::try_parse_from(argv).unwrap();
        let s = run_summary(&args).unwrap();
        assert_eq!(s.ops, 0, "{}", s.text());
        assert_eq!(s.bytes, 0);
        assert_eq!(s.errors.total, 20, "{}", s.text());
        assert_eq!(s.errors.by_kind.get("corrupt"), Some(&20), "{}", s.text());
        assert_eq!(s.operations["get"].ops, 0);
        assert_eq!(s.operations["get"].errors, 20);
    }
}

// ------------------------------------------------------------- pure parts

#[test]
fn sizes() {
    fn check(text: &str, expected: Result<SizeSpec, ParseError>) {
        assert_eq!(SizeSpec::parse(text), expected, "{text}");
    }
    use SizeSpec::*;
    check("0", Ok(Fixed(0)));
    check("4096", Ok(Fixed(4096)));
    check("64MiB", Ok(Fixed(64 << 20)));
    check("64mib", Ok(Fixed(64 << 20)));
    check("64M", Ok(Fixed(64 << 20)));
    check("10MB", Ok(Fixed(10_000_000)));
    check("1.5KiB", Ok(Fixed(1536)));
    check("0.5k", Ok(Fixed(512)));
    check("2 GiB", Ok(Fixed(2 << 30)));
    check("1TB", Ok(Fixed(1_000_000_000_000)));
    check(
        "1KiB-1MiB",
        Ok(Uniform {
            min: 1024,
            max: 1 << 20,
        }),
    );
    check(
        "1KiB-1MiB:log",
        Ok(LogUniform {
            min: 1024,
            max: 1 << 20,
        }),
    );
    check("5-5", Ok(Uniform { min: 5, max: 5 }));
    check("", Err(ParseError::Bytes("".into())));
    check("MiB", Err(ParseError::Bytes("MiB".into())));
    check("1.2.3", Err(ParseError::Bytes("1.2.3".into())));
    check("12XB", Err(ParseError::Bytes("12XB".into())));
    check("-5", Err(ParseError::Bytes("".into())));
    check("2-1", Err(ParseError::EmptyRange("2-1".into())));
    check("0-1:log", Err(ParseError::LogFromZero("0-1:log".into())));
    check("5:log", Err(ParseError::Bytes("5:log".into())));
    check(
        "99999999999TiB",
        Err(ParseError::TooLarge("99999999999TiB".into())),
    );
    assert_eq!(
        parse_bytes("1.0000000001KiB"),
        Err(ParseError::Bytes("1.0000000001KiB".into()))
    );

    // Samples stay in range and cover it.
    for spec in [
        SizeSpec::parse("10-20").unwrap(),
        SizeSpec::parse("1KiB-1GiB:log").unwrap(),
        SizeSpec::parse("0-18446744073709551615").unwrap(),
    ] {
        let (mut lo, mut hi) = (u64::MAX, 0);
        let mut x = 0x1234_5678_9abc_def0u64;
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = spec.sample(x);
            assert!((spec.min()..=spec.max()).contains(&v), "{spec} {v}");
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if spec.max() < 100 {
            assert_eq!((lo, hi), (spec.min(), spec.max()));
        }
    }
    // Log-uniform: about as many below 32 KiB as above (the geometric middle).
    let spec = SizeSpec::parse("1KiB-1MiB:log").unwrap();
    let below = (0..10_000u64)
        .filter(|i| spec.sample(i.wrapping_mul(0x9E37_79B9_7F4A_7C15)) < 32 << 10)
        .count();
    assert!((4_500..5_500).contains(&below), "{below}");

    for (text, ms) in [
        ("10s", 10_000),
        ("500ms", 500),
        ("2m", 120_000),
        ("1h", 3_600_000),
        ("1.5s", 1500),
        ("3", 3000),
    ] {
        assert_eq!(
            parse_duration(text),
            Ok(Duration::from_millis(ms)),
            "{text}"
        );
    }
    for bad in ["", "s", "10x", "1.2.3s", "-1s", "."] {
        assert!(parse_duration(bad).is_err(), "{bad}");
    }
}

#[test]
fn mixes() {
    fn check(text: &str, expected: Result<&str, MixError>) {
        assert_eq!(
            Mix::parse(text).map(|m| m.to_string()),
            expected.map(String::from),
            "{text}"
        );
    }
    check("get=70,put=30", Ok("get=70,put=30"));
    check(" GET = 1 , delete=3,list=0 ", Ok("get=1,delete=3"));
    check("stat=5", Ok("stat=5"));
    check("get=70,put", Err(MixError::Pair("put".into())));
    check("get=70,copy=30", Err(MixError::Operation("copy".into())));
    check("get=-1", Err(MixError::Weight("-1".into())));
    check("get=x", Err(MixError::Weight("x".into())));
    check("get=1,get=2", Err(MixError::Duplicate("get")));
    check("get=0", Err(MixError::Empty));
    check("", Err(MixError::Empty));

    let mix = Mix::parse("get=70,put=20,stat=10").unwrap();
    assert!((mix.fraction(MixOp::Get) - 0.7).abs() < 1e-9);
    assert_eq!(mix.fraction(MixOp::Delete), 0.0);
    let mut counts = HashMap::new();
    let n = 100_000u64;
    for i in 0..n {
        *counts
            .entry(mix.pick(i.wrapping_mul(0x9E37_79B9_7F4A_7C15)))
            .or_insert(0u64) += 1;
    }
    for (op, share) in [(MixOp::Get, 0.7), (MixOp::Put, 0.2), (MixOp::Stat, 0.1)] {
        let got = counts[&op] as f64 / n as f64;
        assert!((got - share).abs() < 0.01, "{op:?}: {got}");
    }
    assert!(!counts.contains_key(&MixOp::Delete));
}

#[test]
fn histogram_percentiles_are_exact_within_a_bucket() {
    // Buckets tile u64 without gaps, each at most 1/64 of its values wide.
    let mut next = 0u64;
    for i in 0..ringgate::bench::hist::BUCKETS {
        let (low, high) = bucket_range(i);
        assert_eq!(low, next, "bucket {i}");
        assert_eq!(bucket_of(low), i);
        assert_eq!(bucket_of(high), i);
        if low >= 128 {
            assert!((high - low + 1) * 64 <= low, "bucket {i}: {low}..={high}");
        }
        next = high.wrapping_add(1);
    }
    assert_eq!(next, 0, "the last bucket ends at u64::MAX");

    let mut x = 88172645463325252u64;
    for (n, spread) in [
        (1usize, 1000u64),
        (7, 100),
        (1000, 1_000_000),
        (20_000, 10_000_000_000),
    ] {
        let mut h = Histogram::new();
        let mut values = Vec::with_capacity(n);
        for _ in 0..n {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Skewed like latencies: most small, a long tail.
            let v = (x % spread) * (x % spread) / spread.max(1);
            values.push(v);
            h.record(v);
        }
        values.sort_unstable();
        assert_eq!(h.count(), n as u64);
        assert_eq!(h.min(), values[0]);
        assert_eq!(h.max(), values[n - 1]);
        for q in [0.0, 0.5, 0.9, 0.99, 0.999, 1.0] {
            let rank = ((q * n as f64).ceil() as usize).max(1);
            let exact = values[rank - 1];
            let (low, high) = bucket_range(bucket_of(exact));
            let got = h.percentile(q);
            assert!(
                got.abs_diff(exact) <= high - low,
                "n={n} q={q}: {got} vs {exact} (bucket {low}..={high})"
            );
        }
    }
    // Merging is adding.
    let (mut a, mut b, mut both) = (Histogram::new(), Histogram::new(), Histogram::new());
    for v in 0..1000u64 {
        if v % 3 == 0 {
            a.record(v * 1000)
        } else {
            b.record(v * 1000)
        }
        both.record(v * 1000);
    }
    a.merge(&b);
    assert_eq!(a.percentile(0.5), both.percentile(0.5));
    assert_eq!(a.mean(), both.mean());
    a.clear();
    assert_eq!((a.count(), a.percentile(0.5), a.max()), (0, 0, 0));
}

#[test]
fn every_flipped_bit_is_found_where_it_is() {
    for (seed, size, offset) in [
        (1u64, 5000u64, 0u64),
        (2, 9000, 4095),
        (3, 3 * BLOCK_BYTES as u64, 1),
    ] {
        let content = Content::new(seed, size + offset);
        let mut data = vec![0u8; size as usize];
        content.fill(offset, &mut data);
        content.verify(offset, &data).unwrap();
        for byte in 0..data.len() {
            for bit in 0..8 {
                data[byte] ^= 1 << bit;
                match content.verify(offset, &data) {
                    Err(Corrupt::Mismatch { offset: at, .. }) => {
                        assert_eq!(at, offset + byte as u64)
                    }
                    other => panic!("seed {seed} byte {byte} bit {bit}: {other:?}"),
                }
                data[byte] ^= 1 << bit;
            }
        }
    }
}

#[test]
fn content_is_seekable_and_checks_in_any_pieces() {
    let content = Content::new(0xfeed, 100_000);
    let mut whole = vec![0u8; 100_000];
    content.fill(0, &mut whole);
    // Any range made on its own equals the same bytes of the whole.
    for (start, len) in [
        (0, 1),
        (1, 4095),
        (4095, 2),
        (4096, 4096),
        (777, 50_000),
        (99_999, 1),
    ] {
        let mut part = vec![0u8; len];
        content.fill(start as u64, &mut part);
        assert_eq!(part, whole[start..start + len], "{start}+{len}");
    }
    // Other seeds and other blocks differ.
    let mut other = vec![0u8; 100_000];
    Content::new(0xfeee, 100_000).fill(0, &mut other);
    assert_ne!(other[..64], whole[..64]);
    assert_ne!(whole[..4096], whole[4096..8192]);
    assert!(
        content.verify(0, &whole[4096..8192]).is_err(),
        "a block at the wrong offset"
    );

    // A streaming verifier, fed in uneven pieces.
    let mut v = Verifier::new(content, 10, 90_000);
    let mut at = 10;
    for step in [1usize, 7, 4096, 3, 65_536, 100].iter().cycle() {
        let end = (at + step).min(90_000);
        v.update(&whole[at..end]).unwrap();
        at = end;
        if at == 90_000 {
            break;
        }
    }
    v.finish().unwrap();
    assert_eq!(v.update(&[0]), Err(Corrupt::TooLong { expected_bytes: 0 }));

    let mut short = Verifier::whole(content);
    short.update(&whole[..99_999]).unwrap();
    assert_eq!(
        short.finish(),
        Err(Corrupt::TooShort {
            expected_bytes: 100_000,
            got_bytes: 99_999
        })
    );
    let mut long = Verifier::whole(content);
    let mut extra = whole.clone();
    extra.push(0);
    assert!(matches!(long.update(&extra), Err(Corrupt::TooLong { .. })));

    // Keys carry what the content follows from.
    let o = ObjectRef {
        thread: 3,
        index: 42,
        content,
    };
    let key = o.key("rb-00000001/");
    assert_eq!(key, "rb-00000001/3/00000042.000000000000feed.100000");
    assert_eq!(ObjectRef::from_key("rb-00000001/", &key), Some(o));
    assert_eq!(content_of_key(&key), Some(content));
    assert_eq!(content_of_key("some/other/key"), None);
}

#[test]
fn proc_files_of_a_server() {
    fn stat(text: &str, expected: Option<(u64, u64)>) {
        assert_eq!(parse_stat_ticks(text), expected, "{text}");
    }
    let fields = "S 1 2 3 4 5 6 7 8 9 10 1234 567 0 0 20 0 3 0 99";
    stat(&format!("4242 (ringgate) {fields}"), Some((1234, 567)));
    // A command name with spaces and parentheses: fields count from the last ')'.
    stat(&format!("7 (a) b (c)) {fields}"), Some((1234, 567)));
    stat("4242 (ringgate) S 1 2", None);
    stat("no parenthesis", None);
    stat(&format!("1 (x) {}", fields.replace("1234", "12x")), None);

    let status = "Name:\tringgate\nVmPeak:\t  900 kB\nVmHWM:\t  2048 kB\nVmRSS:\t    1024 kB\n";
    assert_eq!(parse_status_bytes(status, "VmHWM"), Some(2048 * 1024));
    assert_eq!(parse_status_bytes(status, "VmRSS"), Some(1024 * 1024));
    assert_eq!(parse_status_bytes(status, "VmSwap"), None);
    assert_eq!(parse_status_bytes("VmRSS:\t12 MB\n", "VmRSS"), None);
}

#[test]
fn response_heads() {
    let response = b"HTTP/1.1 206 Partial Content\r\nContent-Length: 5\r\nETag: \"x\"\r\nContent-Range: bytes 0-4/10\r\n\r\nhello";
    let (head, used) = parse_response_head(response).unwrap().unwrap();
    assert_eq!((head.status, head.content_length), (206, Some(5)));
    assert_eq!(&response[used..], b"hello");
    assert_eq!(head.content_range.as_deref(), Some("bytes 0-4/10"));
    assert!(!head.close && !head.chunked);
    let (head, _) = parse_response_head(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
    )
    .unwrap()
    .unwrap();
    assert!(head.chunked && head.close && head.content_length.is_none());
    let (head, _) = parse_response_head(b"HTTP/1.0 200 OK\r\n\r\n")
        .unwrap()
        .unwrap();
    assert!(head.close);
    assert_eq!(
        parse_response_head(b"HTTP/1.1 200 OK\r\nContent-Le").unwrap(),
        None
    );
    assert!(parse_response_head(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n").is_err());
    assert!(parse_response_head(
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"
    )
    .is_err());
    assert!(parse_response_head(b"NOT HTTP\r\n\r\n").is_err());
}

#[test]
fn command_line() {
    let help = BenchArgs::help();
    for flag in [
        "--endpoint",
        "--access-key",
        "--profile",
        "--credentials-file",
        "--region",
        "--size",
        "--concurrency",
        "--threads",
        "--duration",
        "--ops",
        "--objects",
        "--bucket",
        "--keep",
        "--part-size",
        "--range",
        "--mix",
        "--payload",
        "--json",
        "--plot",
        "--path-style",
        "--virtual-host",
        "streaming-unsigned-trailer",
        "multipart",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help");
    }
    let plan = |args: &[&str]| {
        let mut argv = vec![
            "bench",
            "--endpoint",
            "http://127.0.0.1:1",
            "--access-key",
            "a",
            "--secret-key",
            "s",
        ];
        argv.extend_from_slice(args);
        BenchArgs::try_parse_from(argv)
            .map_err(|e| e.to_string())?
            .plan()
    };
    let p = plan(&["get", "--concurrency", "3", "--threads", "8"]).unwrap();
    assert_eq!(
        (p.threads, p.objects, p.duration),
        (3, 16, Some(Duration::from_secs(10)))
    );
    assert_eq!((0..3).map(|t| p.concurrency_of(t)).sum::<usize>(), 3);
    assert_eq!((0..3).map(|t| p.objects_of(t)).sum::<u64>(), 16);
    let p = plan(&["delete", "--ops", "77"]).unwrap();
    assert_eq!((p.objects, p.duration, p.ops_max), (77, None, Some(77)));
    assert!(p.addressing.bucket.starts_with("ringgate-bench-"));
    assert_eq!(
        p.addressing.object_path("a b/c"),
        format!("/{}/a%20b/c", p.addressing.bucket)
    );
    let p = plan(&["multipart", "--virtual-host", "--bucket", "b"]).unwrap();
    assert_eq!(p.size, SizeSpec::Fixed(64 << 20));
    assert_eq!(
        (
            p.addressing.host.as_str(),
            p.addressing.object_path("k").as_str()
        ),
        ("b.127.0.0.1:1", "/k")
    );
    for (args, why) in [
        (
            &["get", "--mix", "get=1"][..],
            "--mix applies to mixed only",
        ),
        (
            &["put", "--range", "1KiB"][..],
            "--range applies to get, mixed only",
        ),
        (&["put", "--objects", "5"][..], "--objects applies to"),
        (
            &["put", "--objects", "5", "--versions", "1"][..],
            "--objects applies to",
        ),
        (&["get", "--ops", "0"][..], "--ops must be at least 1"),
        (
            &["multipart", "--size", "1GiB", "--part-size", "1KiB"][..],
            "more than 10000 parts",
        ),
        (&["put", "--chunk-size", "1KiB"][..], "--chunk-size must be"),
        (
            &["multipart", "--versions", "2"][..],
            "--versions applies to put, get, mixed, list, stat only",
        ),
        (&["get", "--versions", "0"][..], "0 is not in 1..=10000"),
    ] {
        let e = plan(args).unwrap_err();
        assert!(e.contains(why), "{args:?}: {e}");
    }
    assert!(plan(&["frobnicate"]).is_err());
    let p = plan(&["put", "--versions", "3", "--objects", "5"]).unwrap();
    assert!(p.prepares() && p.rewrites_versions() && p.keep);
    assert_eq!((p.versions, p.objects), (3, 5));
}

#[test]
fn credentials_profiles() {
    let text = "[default]\naws_access_key_id = D\naws_secret_access_key = DS\n\n\
                # a comment\n[profile ringgate]\naws_access_key_id=R\naws_secret_access_key = RS\naws_session_token = T\n";
    let c = ringgate::bench::args::parse_profile(text, "ringgate").unwrap();
    assert_eq!(
        (
            c.access_key_id.as_str(),
            c.secret_access_key.as_str(),
            c.session_token.as_deref()
        ),
        ("R", "RS", Some("T"))
    );
    let c = ringgate::bench::args::parse_profile(text, "default").unwrap();
    assert_eq!((c.access_key_id.as_str(), c.session_token), ("D", None));
    assert!(ringgate::bench::args::parse_profile(text, "missing").is_none());
}
