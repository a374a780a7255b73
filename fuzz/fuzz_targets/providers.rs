#![no_main]

libfuzzer_sys::fuzz_target!(|case: reqflo_fuzz::providers::Case| {
    reqflo_fuzz::providers::configure_and_resolve(case)
});
