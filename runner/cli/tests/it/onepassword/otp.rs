//! One-time password fields: the current TOTP code is what a journey sends,
//! and only an OTP field has one.

use super::{Connect, WEBHOOK, env, op_project, op_project_with_key};
use crate::common::{CANARY, assert_absent};

use reqflo_fakes::onepassword::{ConnectData, DEPLOY_OTP_SECRET, OPS_VAULT_ID, totp_code};

/// Seconds since the Unix epoch.
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// The sample, plus an item "GitHub" in vault Ops with a CONCEALED
/// `password` and a one-time password field of `uri`.
fn with_github_otp(uri: &str) -> ConnectData {
    let mut data = ConnectData::sample(CANARY, WEBHOOK);
    let ops = data
        .vaults
        .iter_mut()
        .find(|v| v.id == OPS_VAULT_ID)
        .expect("the sample has vault Ops");
    ops.items.push(serde_json::json!({
        "id": "gh7xq2m4k9c3v8b5n1d6f0j2wz",
        "title": "GitHub",
        "vault": {"id": OPS_VAULT_ID},
        "category": "LOGIN",
        "fields": [
            {"id": "password", "type": "CONCEALED", "purpose": "PASSWORD",
             "label": "password", "value": "gh-password-never-a-code"},
            {"id": "TOTP_gh2fa", "type": "OTP", "label": "one-time password", "value": uri},
        ],
    }));
    data
}

#[test]
fn a_one_time_password_is_sent_as_its_current_code() {
    let now = unix_now();
    // A period of ten days whose current step has a minute or more left: the
    // run then never straddles two codes, so the one this test works out now
    // is the run's. (Steps of 864000 s and 864001 s end some 2000 s apart,
    // so one of the two always fits.)
    let period = [864_000u64, 864_001]
        .into_iter()
        .find(|p| p - now % p > 60)
        .expect("one period fits");
    let uri =
        format!("otpauth://totp/GitHub:ci?secret={DEPLOY_OTP_SECRET}&digits=8&period={period}");
    let code = totp_code(&uri, now).expect("the fake computes the code");
    let secrets = "  OTP: {reference: \"op://Ops/GitHub/one-time password?attribute=otp\"}\n\
                   \x20 TOTP: {reference: \"op://Ops/GitHub/one-time password?attribute=totp\"}\n";
    // The demo API accepts only the code as its key: each payment proves
    // the step sent the code of the moment.
    let journey = "steps:\n  - id: pay\n    template: post-payment\n    values: {key: {type: secret, name: OTP}, amount: 5}\n    expect: {status: 201}\n  - id: pay-again\n    template: post-payment\n    values: {key: {type: secret, name: TOTP}, amount: 6}\n    expect: {status: 201}\n";
    // As Connect 1.4.0 and later (the code sent as `totp`), then as an older
    // Connect (only the URI: the plugin computes the code on its clock).
    for connect_sends_the_code in [true, false] {
        let c = Connect::serving(with_github_otp(&uri));
        c.fake.set_totp_codes(connect_sends_the_code);
        let p = op_project_with_key(&code, &c.grant(), "", secrets, &[]);
        std::fs::write(p.path("journeys/pay.yaml"), journey).expect("write journey");
        let url = c.fake.url();
        let run = p.run(&["run", "pay", "-v"], &env(&url, "full-token"));
        run.expect_code(0);
        assert_eq!(p.api.requests(), 2, "both payments");
        let out = run.all();
        // Both names hold the same code: `-v` shows it under the first.
        assert!(out.contains("[redacted:OTP]"), "{out}");
        assert_absent(&out, &code, "a run sending a one-time password");
        assert_absent(&out, DEPLOY_OTP_SECRET, "a run sending a one-time password");
        assert!(!out.contains("otpauth"), "{out}");
    }
}

#[test]
fn only_an_otp_field_has_a_one_time_password() {
    let c = Connect::serving(with_github_otp(&format!(
        "otpauth://totp/GitHub:ci?secret={DEPLOY_OTP_SECRET}"
    )));
    let url = c.fake.url();
    let secrets = "  NOT_OTP: {reference: \"op://Ops/GitHub/password?attribute=totp\"}\n";
    let p = op_project(&c.grant(), "", secrets, &["NOT_OTP"]);
    let run = p.run(&["check", "j", "--resolve"], &env(&url, "full-token"));
    run.expect_code(3).expect_output(
        "field \"password\" of item \"GitHub\" is not a one-time password (its type is \
         CONCEALED, not OTP)",
    );
    assert!(
        !run.all().contains("gh-password-never-a-code"),
        "{}",
        run.all()
    );
}
