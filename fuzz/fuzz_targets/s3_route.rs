#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ringgate::s3::fuzz::fuzz_route(data));
