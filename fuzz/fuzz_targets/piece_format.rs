#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ringgate::pieces::format::fuzz_piece(data));
