//! The `ringgate` command line.

use mimalloc::MiMalloc;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

const USAGE: &str = "\
ringgate: an S3-compatible storage gateway (encrypts, erasure codes, spreads pieces)

USAGE:
    ringgate piece verify FILE...   check piece files: header, footer, digest, every share checksum
    ringgate --help                 this text
    ringgate --version

The S3 server (`ringgate serve`) is being built in issue 3; see README.md.
";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let code = match words.as_slice() {
        ["piece", "verify", files @ ..] if !files.is_empty() => verify_pieces(files),
        ["--version" | "-V"] => {
            println!("ringgate {}", env!("CARGO_PKG_VERSION"));
            0
        }
        ["--help" | "-h" | "help"] => {
            print!("{USAGE}");
            0
        }
        _ => {
            eprint!("{USAGE}");
            2
        }
    };
    std::process::exit(code);
}

/// Verifies whole piece files; prints one line each. Exit status 1 if any is bad.
fn verify_pieces(files: &[&str]) -> i32 {
    let mut status = 0;
    for file in files {
        match std::fs::read(file) {
            Err(e) => {
                println!("{file}: unreadable: {e}");
                status = 1;
            }
            Ok(bytes) => {
                match ringgate::pieces::format::verify_piece(&bytes) {
                    Err(e) => {
                        println!("{file}: bad: {e}");
                        status = 1;
                    }
                    Ok((header, footer, bad)) if bad.is_empty() => println!(
                        "{file}: ok: piece {} of {}/{}, {} stripes, digest {}",
                        header.id,
                        header.required,
                        header.total,
                        footer.stripe_count,
                        ringgate::pipeline::checksum::hex(&footer.digest)
                    ),
                    Ok((header, _, bad)) => {
                        println!("{file}: damaged: piece {}: shares of stripes {bad:?} fail their checksums", header.id);
                        status = 1;
                    }
                }
            }
        }
    }
    status
}
