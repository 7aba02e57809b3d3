#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ringgate::http::fuzz::fuzz_chunked(data));
