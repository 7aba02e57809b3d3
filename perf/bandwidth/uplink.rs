//! The client that erasure codes for itself: the other side of the
//! bandwidth-limited comparison in perf/bandwidth/run.sh. It runs the very
//! pipeline the gateway runs (`ObjectWriter`: AES-256-GCM, Reed-Solomon,
//! n piece streams with long-tail cancellation) on the client's machine and
//! sends the pieces straight to the storage nodes, so its uplink carries n/k
//! bytes (less what the long tail cuts) for every byte of the object. Nothing
//! is committed to any metadata: this measures transfer, not a product path.
//!
//! ```text
//! uplink --cluster-key FILE --erasure K/O/N --size BYTES --duration-secs S --node ADDR...
//! ```
//! Prints one JSON line: objects, bytes, seconds, MB/s of object data.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ringgate::cluster::StoreSet;
use ringgate::config::PipelineConfig;
use ringgate::object_io::ObjectWriter;
use ringgate::pieces::wire::key_file;
use ringgate::pieces::{PieceStore, RemoteConfig, RemoteStore};
use ringgate::pipeline::{DigestRequest, ErasureParams, Layout};

struct Args {
    nodes: Vec<SocketAddr>,
    key: PathBuf,
    erasure: ErasureParams,
    size: usize,
    duration: Duration,
    segment_bytes: u64,
}

fn parse() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let mut nodes = Vec::new();
    let (mut key, mut erasure, mut size, mut duration) = (None, None, 64 << 20, 20);
    let mut segment_bytes = 64 << 20;
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--node" => nodes.push(value()?.parse().map_err(|e| format!("--node: {e}"))?),
            "--cluster-key" => key = Some(PathBuf::from(value()?)),
            "--erasure" => {
                erasure = Some(ErasureParams::parse(&value()?).map_err(|e| e.to_string())?)
            }
            "--size" => size = value()?.parse().map_err(|e| format!("--size: {e}"))?,
            "--segment-size" => {
                segment_bytes = value()?
                    .parse()
                    .map_err(|e| format!("--segment-size: {e}"))?
            }
            "--duration-secs" => {
                duration = value()?
                    .parse()
                    .map_err(|e| format!("--duration-secs: {e}"))?
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(Args {
        nodes,
        key: key.ok_or("--cluster-key is required")?,
        erasure: erasure.ok_or("--erasure is required")?,
        size,
        duration: Duration::from_secs(duration),
        segment_bytes,
    })
}

fn main() {
    let args = match parse() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("uplink: {e}");
            std::process::exit(2);
        }
    };
    let key = Arc::new(key_file::load(&args.key).expect("cluster key"));
    glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
        .spawn(move || async move {
            let stores: Vec<Rc<dyn PieceStore>> = args
                .nodes
                .iter()
                .map(|&addr| {
                    let node_key = Arc::new(key.node_key(&addr.to_string()));
                    Rc::new(RemoteStore::new(addr, node_key, RemoteConfig::default()))
                        as Rc<dyn PieceStore>
                })
                .collect();
            let stores = Rc::new(StoreSet::from_stores(stores));
            let layout = Layout::new(args.erasure, 64 << 10, args.segment_bytes).expect("layout");
            let config = Rc::new(PipelineConfig::new(layout));
            let chunk: Vec<u8> = (0..1 << 20).map(|i: u32| (i * 2654435761) as u8).collect();
            let started = Instant::now();
            let (mut objects, mut bytes) = (0u64, 0u64);
            while started.elapsed() < args.duration {
                let digests = DigestRequest {
                    md5: false,
                    checksum: None,
                };
                let mut writer =
                    ObjectWriter::new(config.clone(), stores.clone(), digests).expect("writer");
                let mut left = args.size;
                while left > 0 {
                    let n = left.min(chunk.len());
                    writer.write(&chunk[..n]).await.expect("write");
                    left -= n;
                }
                let stored = writer.finish().await.expect("pieces stored");
                objects += 1;
                bytes += args.size as u64;
                // The pieces are not kept: nothing would ever read them.
                for extent in &stored.extents {
                    if let ringgate::object_io::BodyExtent::Segment(segment) = extent {
                        ringgate::object_io::delete_pieces(&stores, segment.id, &segment.pieces)
                            .await;
                    }
                }
            }
            let seconds = started.elapsed().as_secs_f64();
            println!(
                "{{\"objects\":{objects},\"bytes\":{bytes},\"seconds\":{seconds:.3},\"mb_s\":{:.2}}}",
                bytes as f64 / seconds / 1e6
            );
            // Let the background deletes reach the nodes.
            glommio::timer::sleep(Duration::from_secs(2)).await;
        })
        .expect("executor")
        .join()
        .expect("uplink runs");
}
