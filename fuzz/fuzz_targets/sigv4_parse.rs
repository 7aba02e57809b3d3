#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ringgate::sigv4::fuzz::fuzz_parse(data));
