//! Cost of verifying one access token, against two baselines measured in the same run: decoding
//! the same claims from plain JSON (what a request would pay with no signature at all) and
//! checking an HMAC-SHA256 tag over the same bytes (the cheapest keyed check). Prints a table of
//! medians over several runs.
//!
//! Run: `cargo bench -p trainyard-auth --features testing --bench verify`

use std::hint::black_box;
use std::time::Instant;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use trainyard_auth::testing::{guide_minimal_rights, TestIssuer};
use trainyard_auth::Claims;
use trainyard_core::TenantId;

const ITERATIONS: u32 = 20_000;
const RUNS: usize = 7;

fn median_micros(mut per_op: Vec<f64>) -> f64 {
    per_op.sort_by(f64::total_cmp);
    per_op[per_op.len() / 2]
}

fn measure(mut op: impl FnMut()) -> f64 {
    let runs = (0..RUNS)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..ITERATIONS {
                op();
            }
            started.elapsed().as_secs_f64() * 1e6 / f64::from(ITERATIONS)
        })
        .collect();
    median_micros(runs)
}

fn main() {
    let issuer = TestIssuer::default();
    let verifier = issuer.verifier();
    let claims = issuer.claims(TenantId::new(), guide_minimal_rights(), false);
    let token = issuer.sign(&claims);
    let json = serde_json::to_vec(&claims).expect("claims serialise");
    let mut mac = Hmac::<Sha256>::new_from_slice(&[7u8; 32]).expect("any key length");
    mac.update(&json);
    let tag = mac.finalize().into_bytes();

    let eddsa = measure(|| {
        black_box(
            verifier
                .verify_known(black_box(&token))
                .expect("valid token"),
        );
    });
    let plain = measure(|| {
        black_box(serde_json::from_slice::<Claims>(black_box(&json)).expect("claims"));
    });
    let hmac = measure(|| {
        let mut mac = Hmac::<Sha256>::new_from_slice(&[7u8; 32]).expect("any key length");
        mac.update(black_box(&json));
        mac.verify_slice(&tag).expect("tag");
        black_box(serde_json::from_slice::<Claims>(&json).expect("claims"));
    });

    println!(
        "token: {} bytes; {ITERATIONS} iterations x {RUNS} runs, medians",
        token.len()
    );
    println!("| check | µs / request | ratio to plain JSON |");
    println!("|---|---:|---:|");
    for (name, micros) in [
        ("plain JSON decode of the claims (baseline)", plain),
        ("HMAC-SHA256 verify + JSON decode", hmac),
        (
            "EdDSA access token: parse + verify_strict + claims + revocation",
            eddsa,
        ),
    ] {
        println!("| {name} | {micros:.2} | {:.1}x |", micros / plain);
    }
}
