//! `multipart:` bodies: text parts (a secret among them stays redacted)
//! and files of the project, parsed by a real multipart parser (axum's,
//! in the demo API's `/upload`); bad parts are named at their place.

use sha2::Digest as _;

use crate::common::{CANARY, assert_absent, encoded_forms, project};

const UPLOAD: &str = r#"method: POST
url: "{{base_url}}/upload"
multipart:
  note: "paid by {{key}}"
  amount: 5
  receipt: {file: files/receipt.pdf, content_type: application/pdf}
  avatar: {file: files/avatar.png, filename: me.png}
"#;

#[test]
fn text_parts_and_files_reach_a_real_parser() {
    // Bytes that are no UTF-8, and one that looks like a boundary.
    let avatar: Vec<u8> = (0..=255u8).cycle().take(3000).chain(*b"\r\n--x").collect();
    let digest = hex::encode(sha2::Sha256::digest(&avatar));
    let journey = format!(
        r#"
steps:
  - id: upload
    template: upload
    values: {{key: {{type: secret, name: K}}}}
    expect:
      status: 200
      json:
        "$.fields.amount": "5"
        "$.fields.note": {{starts-with: "paid by "}}
        "$.files.receipt.filename": receipt.pdf
        "$.files.receipt.content_type": application/pdf
        "$.files.receipt.size": 9
        "$.files.avatar.filename": me.png
        "$.files.avatar.content_type": application/octet-stream
        "$.files.avatar.size": {len}
        "$.files.avatar.sha256": "{digest}"
"#,
        len = avatar.len()
    );
    let p = project(&[
        ("templates/upload.yaml", UPLOAD),
        ("journeys/j.yaml", &journey),
        ("files/receipt.pdf", "%PDF-1.7\n"),
    ]);
    std::fs::write(p.path("files/avatar.png"), &avatar).expect("write avatar");
    p.run(&["check", "j"], &[]).expect_code(0);
    let report = p.path("r.json").display().to_string();
    let run = p.run(
        &["run", "j", "-v", "--report-json", &report],
        &[("K", CANARY)],
    );
    run.expect_code(0).expect_output("1 of 1 step ok");
    // The dump shows the parts, the secret in the note as its marker.
    run.expect_output("content-type: multipart/form-data; boundary=reqflo-");
    run.expect_output("name=\"note\"");
    run.expect_output("paid by [redacted:K]");
    let text = std::fs::read_to_string(p.path("r.json")).expect("report");
    for form in encoded_forms(CANARY) {
        assert_absent(&run.all(), &form, "the console and -v");
        assert_absent(&text, &form, "the JSON report");
    }
}

#[test]
fn bad_parts_are_named_at_their_place() {
    let cases = [
        (
            "multipart:\n  a: {file: files/missing.bin}\n",
            "cannot read files/missing.bin",
            "upload.yaml:4:",
        ),
        (
            "multipart:\n  a: {file: ../outside.bin}\n",
            "is not a path inside the project",
            "upload.yaml:4:",
        ),
        (
            "multipart:\n  a: {file: files/r.pdf, mime: x}\n",
            "`mime` is not a field of a file part",
            "upload.yaml:4:",
        ),
        (
            "multipart:\n  a: [1, 2]\n",
            "part `a` is text, or a file",
            "upload.yaml:4:",
        ),
        (
            "headers: {Content-Type: text/plain}\nmultipart:\n  a: x\n",
            "sets its own Content-Type",
            "upload.yaml:3:",
        ),
        (
            "json: {a: 1}\nmultipart:\n  a: x\n",
            "at most one of `json`, `form`, `body` and `multipart`",
            "upload.yaml:",
        ),
        (
            "multipart:\n  'a\"b': x\n",
            "part name `a\"b`",
            "upload.yaml:4:",
        ),
    ];
    for (body, message, place) in cases {
        let template = format!("method: POST\nurl: \"{{{{base_url}}}}/upload\"\n{body}");
        let p = project(&[
            ("templates/upload.yaml", &template),
            ("files/r.pdf", "%PDF"),
            (
                "journeys/j.yaml",
                "steps:\n  - id: upload\n    template: upload\n",
            ),
        ]);
        let run = p.run(&["check", "j"], &[]);
        run.expect_code(2).expect_output(message);
        run.expect_output(place);
    }
}
