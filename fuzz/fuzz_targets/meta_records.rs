#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ringgate::meta::fuzz_decode_records(data));
