//! In-process cost of the plugin host, warm: starting a provider sandbox from a
//! pre-linked component, and resolving one reference through the env plugin.
//!
//! Run with `cargo bench -p reqflo --bench resolve`. Prints medians and
//! the ratio to a plain `std::env::var` lookup measured in the same run.

use std::time::{Duration, Instant};

use reqflo_sandbox::Embedded as _;
use reqflo_sandbox::secrets::{Builtin, PluginHost, PluginInstance, Sandbox};
use sha2::Digest;

const ROUNDS: usize = 2000;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let bytes = Builtin::Env.bytes();
        let digest = hex::encode(sha2::Sha256::digest(bytes));
        let compile_started = Instant::now();
        let host = PluginHost::shared().expect("engine");
        let compiled = host
            .compile("builtin:env", bytes, &digest)
            .expect("compiles");
        let compile = compile_started.elapsed();
        let redactor = reqflo_core::redact::Redactor::for_run();
        let sandbox = || Sandbox {
            env: vec![("BENCH_SECRET".into(), "bench-value-1234".into())],
            memory_bytes: 64 << 20,
            timeout: Duration::from_secs(5),
            ..Sandbox::new(redactor.clone())
        };

        let mut start = Vec::with_capacity(ROUNDS);
        let mut first_resolve = Vec::with_capacity(ROUNDS);
        for _ in 0..ROUNDS / 10 {
            let t = Instant::now();
            let mut instance = PluginInstance::start(&compiled, sandbox())
                .await
                .expect("starts");
            instance.configure(&[]).await.expect("configures");
            start.push(t.elapsed());
            let t = Instant::now();
            let value = instance.resolve("BENCH_SECRET").await;
            first_resolve.push(t.elapsed());
            assert!(value.is_ok());
        }

        let mut instance = PluginInstance::start(&compiled, sandbox())
            .await
            .expect("starts");
        instance.configure(&[]).await.expect("configures");
        let mut resolve = Vec::with_capacity(ROUNDS);
        for _ in 0..ROUNDS {
            let t = Instant::now();
            let value = instance.resolve("BENCH_SECRET").await;
            resolve.push(t.elapsed());
            assert!(value.is_ok());
        }

        // Baseline: the same lookup with no sandbox at all.
        // SAFETY: single-threaded here; nothing else reads the environment.
        unsafe { std::env::set_var("BENCH_SECRET", "bench-value-1234") };
        let mut plain = Vec::with_capacity(ROUNDS);
        for _ in 0..ROUNDS {
            let t = Instant::now();
            let value = std::env::var("BENCH_SECRET");
            plain.push(t.elapsed());
            assert!(value.is_ok());
        }

        let (start, first, resolve, plain) = (
            median(start),
            median(first_resolve),
            median(resolve),
            median(plain),
        );
        println!("env plugin, warm, in-process (medians):");
        println!("  compile or load from cache, once per process: {compile:?}");
        println!("  start sandbox + configure:                    {start:?}");
        println!("  first resolve in a fresh sandbox:             {first:?}");
        println!("  resolve one reference (live sandbox):         {resolve:?}");
        println!("  plain std::env::var baseline:                 {plain:?}");
        println!(
            "  ratio resolve / baseline: {:.0}x",
            resolve.as_secs_f64() / plain.as_secs_f64().max(1e-9)
        );
    });
}
