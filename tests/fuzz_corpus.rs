//! Replays every committed fuzz corpus (`fuzz/corpus/<target>/*`) through the
//! same `fuzz_*` entry point its cargo-fuzz target calls, inside plain `cargo
//! test`: seeds, and every input a fuzzer once crashed on (kept as
//! `regression-*` after the fix), stay checked on machines without cargo-fuzz
//! or a nightly compiler. The table below is checked against
//! `fuzz/fuzz_targets/`, so a new target cannot go unreplayed.

use std::fs;
use std::path::{Path, PathBuf};

/// Every fuzz target: its name (file in `fuzz/fuzz_targets/`, directory in
/// `fuzz/corpus/`), the library function it calls, and that function's path
/// as the target file spells it; and one test per target replaying its corpus.
macro_rules! targets {
    ($($name:ident => $($path:ident)::+,)*) => {
        const TARGETS: &[(&str, fn(&[u8]), &str)] = &[
            $((
                stringify!($name),
                ringgate::$($path)::+,
                concat!("ringgate", $("::", stringify!($path)),+),
            ),)*
        ];

        $(
            #[test]
            fn $name() {
                replay(stringify!($name));
            }
        )*
    };
}

targets! {
    http_request_head => http::fuzz::fuzz_request_head,
    http_chunked => http::fuzz::fuzz_chunked,
    http_aws_chunked => http::fuzz::fuzz_aws_chunked,
    http_target => http::fuzz::fuzz_target,
    sigv4_parse => sigv4::fuzz::fuzz_parse,
    sigv4_sign_verify => sigv4::fuzz::fuzz_sign_verify,
    s3_xml => s3::fuzz::fuzz_xml,
    s3_route => s3::fuzz::fuzz_route,
    piece_format => pieces::format::fuzz_piece,
    meta_records => meta::fuzz_decode_records,
}

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The files of a directory, sorted, so a failure names the same file on
/// every run.
fn files(dir: &Path) -> Vec<PathBuf> {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

fn replay(name: &str) {
    let (_, run, _) = TARGETS
        .iter()
        .find(|(target, _, _)| *target == name)
        .expect("target in the table");
    let corpus = files(&fuzz_dir().join("corpus").join(name));
    assert!(!corpus.is_empty(), "fuzz/corpus/{name} has no inputs");
    for file in corpus {
        let data = fs::read(&file).expect("corpus file");
        // Printed before the run, so a panic's output names its input.
        println!("{}", file.display());
        run(&data);
    }
}

/// Every target file calls the function the table replays, every target
/// has a corpus, and every corpus belongs to a target.
#[test]
fn table_matches_fuzz_targets_and_corpora() {
    let mut on_disk: Vec<String> = files(&fuzz_dir().join("fuzz_targets"))
        .iter()
        .map(|path| {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            let source = fs::read_to_string(path).expect("target source");
            let (_, _, function) = TARGETS
                .iter()
                .find(|(target, _, _)| *target == name)
                .unwrap_or_else(|| panic!("fuzz target {name} is not in TARGETS"));
            assert!(
                source.contains(&format!("{function}(data)")),
                "fuzz/fuzz_targets/{name}.rs does not call {function}"
            );
            name
        })
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = TARGETS
        .iter()
        .map(|(name, _, _)| name.to_string())
        .collect();
    listed.sort();
    assert_eq!(on_disk, listed, "TARGETS and fuzz/fuzz_targets differ");
    let entries = fs::read_dir(fuzz_dir().join("corpus")).expect("fuzz/corpus");
    let mut corpora: Vec<String> = entries
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    corpora.sort();
    assert_eq!(corpora, listed, "fuzz/corpus and TARGETS differ");
}
