//! Request authentication cost on one core: `s3::authn::authenticate` on a
//! warm grant cache (a hit) and on a cold one (a miss: the sealed record, the
//! project and the revocation list read from a real redb file through
//! glommio's blocking pool, the record opened, the API key's chain verified),
//! and the steps a request pays for, each alone.
//!
//! ```text
//! cargo bench --bench auth                            # criterion, then the table
//! RINGGATE_BENCH_TABLE_ONLY=1 cargo bench --bench auth  # the table only (~10 s)
//! ```
//!
//! The request is a GET signed as the AWS SDK signs one (six signed headers)
//! with the credentials of a registered grant restricted by two caveats (a
//! bucket and prefix, a read-only expiring one). Hit and step figures are the
//! calling thread's CPU time per request, so that other processes on a shared
//! machine do not count; the miss is wall time, since its reads run on another
//! thread (the blocking pool) and their hand-offs are part of its cost. The
//! table at the end is best and median of interleaved rounds (see `table`).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use glommio::{LocalExecutor, LocalExecutorBuilder, Placement};
use ringgate::auth::{AccessKeyId, AccessRecord, ActionSet, Caveat, Grant, ServerKey};
use ringgate::entropy::Os;
use ringgate::meta::{Committer, ProjectId};
use ringgate::metrics::Metrics;
use ringgate::registry::Registry;
use ringgate::s3::authn::{authenticate, GrantCache};
use ringgate::sigv4::{self, AmzDateTime, PayloadHash, RequestParts, RequestSigner};
use sha2::{Digest, Sha256};

// The server's allocator (src/main.rs): allocation is part of the cost.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const REGION: &str = "us-east-1";
const ENTRIES_MAX: usize = 10_000;
const TTL: Duration = Duration::from_secs(3600);

/// Fields drop in order: the registry before the commit thread, the file last.
struct Fixture {
    registry: Registry,
    access_key: AccessKeyId,
    grant: Grant,
    headers: Vec<(&'static str, Vec<u8>)>,
    _committer: Committer,
    _dir: tempfile::TempDir,
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A redb metadata file holding one project and one registered grant, and a
/// GET request signed with its credentials.
fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let (registry, committer) =
        Registry::open(&dir.path().join("meta.redb"), ServerKey::random(&mut Os)).unwrap();
    let project = registry.create_project_blocking("bench").unwrap();
    let grant = project
        .grant
        .restrict(Caveat::default().allow_path("photos", "2024/"))
        .unwrap()
        .restrict(
            Caveat::default()
                .allow_actions(ActionSet::READ_ONLY)
                .not_after(now_unix() + 86_400),
        )
        .unwrap();
    let registered = registry
        .register_blocking(grant.clone(), now_unix())
        .unwrap();
    let signer = RequestSigner::new(
        registered.access_key.expose(),
        registered.secret_key.as_bytes(),
        REGION,
        AmzDateTime::from_unix_secs(now_unix()).unwrap(),
    );
    let mut headers: Vec<(&'static str, Vec<u8>)> = vec![
        ("host", b"127.0.0.1:9000".to_vec()),
        (
            "amz-sdk-invocation-id",
            b"5c1f2f8e-8f0e-4a55-9a4b-0f4f7d6b1e2a".to_vec(),
        ),
        ("amz-sdk-request", b"attempt=1; max=3".to_vec()),
        (
            "x-amz-user-agent",
            b"aws-sdk-rust/1.3.0 api/s3/1.90.0 os/linux lang/rust/1.89.0".to_vec(),
        ),
    ];
    let signed = {
        let borrowed: Vec<(&str, &[u8])> =
            headers.iter().map(|(n, v)| (*n, v.as_slice())).collect();
        signer
            .sign(
                &RequestParts {
                    method: "GET",
                    raw_path: "/photos/2024/beach.jpg",
                    raw_query: "x-id=GetObject",
                    headers: &borrowed,
                },
                &PayloadHash::from_digest(Sha256::digest(b"").into()),
            )
            .unwrap()
    };
    for (name, value) in signed.headers {
        headers.push((name, value.into_bytes()));
    }
    headers.push(("authorization", signed.authorization.into_bytes()));
    headers.push(("user-agent", b"aws-sdk-rust/1.3.0 os/linux".to_vec()));
    headers.push(("accept-encoding", b"identity".to_vec()));
    Fixture {
        registry,
        access_key: registered.access_key,
        grant,
        headers,
        _committer: committer,
        _dir: dir,
    }
}

impl Fixture {
    fn headers(&self) -> Vec<(&str, &[u8])> {
        self.headers
            .iter()
            .map(|(n, v)| (*n, v.as_slice()))
            .collect()
    }
}

fn parts<'a>(headers: &'a [(&'a str, &'a [u8])]) -> RequestParts<'a> {
    RequestParts {
        method: "GET",
        raw_path: "/photos/2024/beach.jpg",
        raw_query: "x-id=GetObject",
        headers,
    }
}

/// This thread's CPU time.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for the call to fill.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn executor() -> LocalExecutor {
    LocalExecutorBuilder::new(Placement::Unbound)
        .make()
        .expect("a glommio executor")
}

/// Something measured: `run(n)` does it `n` times and returns the time taken
/// (thread CPU time, or wall time where `wall`).
struct Probe<'a> {
    name: &'static str,
    wall: bool,
    run: Box<dyn FnMut(u64) -> Duration + 'a>,
}

/// A probe timing `f` in thread CPU time.
fn cpu<'a>(name: &'static str, mut f: impl FnMut() + 'a) -> Probe<'a> {
    Probe {
        name,
        wall: false,
        run: Box::new(move |n| {
            let started = thread_cpu();
            for _ in 0..n {
                f();
            }
            thread_cpu() - started
        }),
    }
}

/// What the probes share: the fixture's request, parsed and opened once for
/// the steps measured alone.
struct Setup<'a> {
    fx: &'a Fixture,
    ex: LocalExecutor,
    metrics: Metrics,
    warm: GrantCache,
    parts: RequestParts<'a>,
    sealed: Vec<u8>,
    record: AccessRecord,
    secret: ringgate::auth::ProjectSecret,
    auth: sigv4::Authorization,
    key: sigv4::SigningKey,
}

impl<'a> Setup<'a> {
    fn new(fx: &'a Fixture, headers: &'a [(&'a str, &'a [u8])]) -> Self {
        let parts = parts(headers);
        let store = fx.registry.meta().backend();
        let sealed = store.access(&fx.access_key.row_key()).unwrap().unwrap();
        let project = store
            .project(ProjectId(*fx.grant.project()))
            .unwrap()
            .unwrap();
        let secret = fx.registry.open_secret(&project).unwrap();
        let record =
            AccessRecord::open(fx.registry.record_secret(), &fx.access_key, &sealed).unwrap();
        let auth = sigv4::request_authorization(&parts).unwrap().unwrap();
        let key = sigv4::signing_key(
            record.secret_key.as_bytes(),
            &auth.scope.date,
            REGION,
            sigv4::SERVICE,
        );
        Setup {
            fx,
            ex: executor(),
            metrics: Metrics::new(1),
            warm: GrantCache::new(ENTRIES_MAX, TTL),
            parts,
            sealed,
            record,
            secret,
            auth,
            key,
        }
    }

    /// `n` authentications on the warm cache, opening the root key if asked.
    fn hits(&self, n: u64, root_key: bool) -> Duration {
        self.ex.run(async {
            let started = thread_cpu();
            for _ in 0..n {
                let caller = authenticate(
                    &self.fx.registry,
                    &self.warm,
                    self.metrics.core(0),
                    REGION,
                    black_box(&self.parts),
                )
                .await
                .unwrap();
                if root_key {
                    black_box(caller.root_key().unwrap());
                }
                black_box(&caller);
            }
            thread_cpu() - started
        })
    }

    /// `n` authentications, each on a cold cache (making it is not timed).
    fn misses(&self, n: u64) -> Duration {
        self.ex.run(async {
            let mut spent = Duration::ZERO;
            for _ in 0..n {
                let cold = GrantCache::new(ENTRIES_MAX, TTL);
                let started = Instant::now();
                let caller = authenticate(
                    &self.fx.registry,
                    &cold,
                    self.metrics.core(0),
                    REGION,
                    black_box(&self.parts),
                )
                .await
                .unwrap();
                spent += started.elapsed();
                black_box(&caller);
            }
            spent
        })
    }

    fn probes(&self) -> Vec<Probe<'_>> {
        let fx = self.fx;
        let now = now_unix();
        vec![
            Probe {
                name: "authenticate/hit",
                wall: false,
                run: Box::new(|n| self.hits(n, false)),
            },
            // A request that reads or writes object data also opens the
            // record's root key (GET, PUT, UploadPart, copies).
            Probe {
                name: "authenticate/hit_root_key",
                wall: false,
                run: Box::new(|n| self.hits(n, true)),
            },
            Probe {
                name: "authenticate/miss",
                wall: true,
                run: Box::new(|n| self.misses(n)),
            },
            cpu("steps/parse_authorization", || {
                black_box(sigv4::request_authorization(black_box(&self.parts)).unwrap());
            }),
            cpu("steps/row_key", || {
                black_box(black_box(&fx.access_key).row_key());
            }),
            cpu("steps/verify_sigv4", move || {
                black_box(
                    sigv4::verify_request(black_box(&self.parts), &self.auth, &self.key, now)
                        .unwrap(),
                );
            }),
            cpu("steps/open_root_key", || {
                black_box(
                    AccessRecord::open_root_key(
                        fx.registry.record_secret(),
                        &fx.access_key,
                        black_box(&self.sealed),
                    )
                    .unwrap(),
                );
            }),
            cpu("steps/open_record", || {
                let secret = fx.registry.record_secret();
                let sealed = black_box(&self.sealed);
                black_box(AccessRecord::open(secret, &fx.access_key, sealed).unwrap());
            }),
            cpu("steps/signing_key", || {
                black_box(sigv4::signing_key(
                    black_box(self.record.secret_key.as_bytes()),
                    &self.auth.scope.date,
                    REGION,
                    sigv4::SERVICE,
                ));
            }),
            cpu("steps/macaroon_chain", || {
                black_box(
                    black_box(&self.record.grant)
                        .authorize(&self.secret, |_| false)
                        .unwrap(),
                );
            }),
        ]
    }
}

/// Best and median per request over `ROUNDS` rounds, the probes taking turns
/// within each round, so a burst of load on a shared machine hits one round of
/// every probe rather than all rounds of one. The best is the figure to
/// compare: interference only ever adds time.
fn table(probes: &mut [Probe<'_>]) {
    const ROUNDS: usize = 15;
    let mut samples: Vec<Vec<f64>> = vec![Vec::with_capacity(ROUNDS); probes.len()];
    for _ in 0..ROUNDS {
        for (probe, samples) in probes.iter_mut().zip(&mut samples) {
            let n = if probe.wall { 200 } else { 20_000 };
            let spent = (probe.run)(n);
            samples.push(spent.as_nanos() as f64 / n as f64);
        }
    }
    println!("\nauthentication cost per request, one core: best and median of {ROUNDS} rounds");
    println!("(thread CPU time; the miss in wall time, its reads run on the blocking pool)");
    for (probe, samples) in probes.iter().zip(&mut samples) {
        samples.sort_by(f64::total_cmp);
        println!(
            "  {:<28} {:>9.0} ns {:>9.0} ns",
            probe.name,
            samples[0],
            samples[ROUNDS / 2]
        );
    }
}

fn main() {
    let fx = fixture();
    let headers = fx.headers();
    let setup = Setup::new(&fx, &headers);
    let mut probes = setup.probes();
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    if std::env::var_os("RINGGATE_BENCH_TABLE_ONLY").is_none() {
        for probe in probes.iter_mut() {
            c.bench_function(probe.name, |b| b.iter_custom(|n| (probe.run)(n)));
        }
    }
    table(&mut probes);
    c.final_summary();
}
