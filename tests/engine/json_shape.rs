//! One JSON shape for every `--json` output ([`latent_explorer::envelope`]): every command
//! that has a `--json` flag, found in clap's command tree (so a new one that this test does
//! not run fails it), runs on the exploring tools' fixture (1,000 / 300 digits, a 1-epoch
//! checkpoint) and a two-run sweep of it; each line of its standard output is an envelope
//! with exactly the five keys, its schema and command, every protocol key, and data. The
//! protocols are checked against what the fixture and the checkpoints' headers say; the
//! guide's page documents every schema and protocol key. (`app --measure`, whose report is
//! an envelope too, needs a window: `cli.rs` checks it with [`check_envelope`].)

use std::collections::BTreeMap;

use clap::CommandFactory;
use latent_explorer::envelope::{self, PROTOCOL_KEYS};
use serde_json::{Value, json};

use crate::explore_tools::{fixture, fixture_data, ok, s};

/// Check that `v` is an envelope of `command`: exactly the five keys, `schema`
/// `latent-explorer/COMMAND` (words joined by `-`), an integer `version` ≥ 1 (the library's for that command),
/// `command`, a `protocol` object with every documented key and no other, and `data`.
pub(crate) fn check_envelope(v: &Value, command: &str) {
    let obj = v
        .as_object()
        .unwrap_or_else(|| panic!("{command}: not an object: {v}"));
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["command", "data", "protocol", "schema", "version"],
        "{command}: {v}"
    );
    assert_eq!(
        v["schema"],
        format!("latent-explorer/{}", command.replace(' ', "-")),
        "{command}: {v}"
    );
    assert_eq!(v["command"], command, "{v}");
    let version = v["version"]
        .as_u64()
        .unwrap_or_else(|| panic!("{command}: version is not a whole number: {v}"));
    assert!(version >= 1, "{command}: {v}");
    let schema = envelope::ALL
        .iter()
        .find(|s| s.command == command)
        .unwrap_or_else(|| panic!("{command}: no schema in envelope::ALL"));
    assert_eq!(version, u64::from(schema.version), "{command}");
    let protocol = v["protocol"]
        .as_object()
        .unwrap_or_else(|| panic!("{command}: protocol is not an object: {v}"));
    let mut got: Vec<&str> = protocol.keys().map(String::as_str).collect();
    let mut want = PROTOCOL_KEYS.to_vec();
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got, want, "{command}: protocol keys");
    assert!(!v["data"].is_null(), "{command}: no data: {v}");
}

/// Every line of `stdout`, each checked as an envelope of `command` (nothing else may be
/// on standard output).
fn envelopes(stdout: &str, command: &str) -> Vec<Value> {
    assert!(stdout.ends_with('\n'), "{command}: {stdout:?}");
    stdout
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("{command}: a line that is not JSON ({e}): {l:?}"));
            check_envelope(&v, command);
            v
        })
        .collect()
}

/// The (sub)commands that take `--json`, as typed (`sweep status`), from clap's tree.
fn json_commands() -> Vec<String> {
    fn walk(cmd: &clap::Command, path: &[String], out: &mut Vec<String>) {
        for sub in cmd.get_subcommands() {
            let mut p = path.to_vec();
            p.push(sub.get_name().to_string());
            if sub.get_arguments().any(|a| a.get_long() == Some("json")) {
                out.push(p.join(" "));
            }
            walk(sub, &p, out);
        }
    }
    let mut out = Vec::new();
    walk(&latent_explorer::cli::Cli::command(), &[], &mut out);
    out.sort();
    out
}

#[test]
fn every_json_output_is_one_envelope_per_line() {
    let f = fixture();
    let data = fixture_data();
    let dir = tempfile::tempdir().unwrap();
    // A sweep of two seeds, one epoch each, on the fixture's digits.
    let spec = dir.path().join("sweep.toml");
    std::fs::write(
        &spec,
        format!(
            "[base]\ndata = {:?}\nepochs = 1\nhidden = [16]\nlatent = 2\nbatch = 100\n\
             final_iwae_k = 0\n[axes]\nseed = [0, 1]\n",
            s(&f.data)
        ),
    )
    .unwrap();
    let sweep = dir.path().join("sweep");
    ok(&["sweep", "plan", s(&spec), "--out", s(&sweep)]);
    ok(&[
        "sweep",
        "run",
        s(&sweep),
        "--launcher",
        "local",
        "--jobs",
        "1",
    ]);
    let trained = dir.path().join("t.safetensors");
    let (d, ckpt, held_out) = (s(&f.data), s(&f.ckpt), s(&f.held_out));
    let cases: Vec<(&str, Vec<&str>)> = vec![
        (
            "train",
            vec![
                "train",
                "--data",
                d,
                "--epochs",
                "1",
                "--hidden",
                "16",
                "--latent",
                "2",
                "--seed",
                "7",
                "--final-iwae-k",
                "5",
                "--json",
                "--out",
                s(&trained),
            ],
        ),
        (
            "eval",
            vec!["eval", ckpt, "--data", d, "--iwae-k", "5", "--json"],
        ),
        (
            "anomaly",
            vec![
                "anomaly", held_out, "--data", d, "--top", "2", "--seed", "3", "--json",
            ],
        ),
        (
            "bench",
            vec![
                "bench",
                "--data",
                d,
                "--epochs",
                "1",
                "--batch",
                "100",
                "--threads",
                "1",
                "--json",
            ],
        ),
        (
            "compare",
            vec![
                "compare",
                "--data",
                d,
                "--epochs",
                "1",
                "--latent",
                "2",
                "--batch",
                "100",
                "--iwae-k",
                "5",
                "--variants",
                "vae",
                "--seeds",
                "2",
                "--seed",
                "4",
                "--no-probe",
                "--json",
            ],
        ),
        ("compare", vec!["compare", "--from", s(&sweep), "--json"]),
        ("sweep status", vec!["sweep", "status", s(&sweep), "--json"]),
        (
            "align",
            vec!["align", ckpt, held_out, "--data", d, "--json"],
        ),
    ];
    // Every command with --json is run here, and nothing else.
    let mut covered: Vec<String> = cases.iter().map(|(c, _)| c.to_string()).collect();
    covered.sort();
    covered.dedup();
    assert_eq!(
        json_commands(),
        covered,
        "the commands with --json against those this test runs"
    );
    // Each schema of the library is a command with --json, or the app's report.
    let mut schemas: Vec<&str> = envelope::ALL.iter().map(|s| s.command).collect();
    schemas.sort_unstable();
    let mut expected: Vec<&str> = covered.iter().map(String::as_str).collect();
    expected.push("app");
    expected.sort_unstable();
    assert_eq!(schemas, expected);

    let mut out: BTreeMap<String, Vec<Vec<Value>>> = BTreeMap::new();
    for (command, args) in &cases {
        let lines = envelopes(&ok(args), command);
        out.entry(command.to_string()).or_default().push(lines);
    }
    let (n_train, n_test) = (data.train.len(), data.test.len());
    assert_eq!((n_train, n_test), (1000, 300));
    let base = |p: &Value| {
        assert_eq!(p["data"], json!(data.name), "{p}");
        assert_eq!(p["test_items"], n_test, "{p}");
        assert_eq!(p["binarization"], "none", "{p}");
        assert_eq!(p["likelihood"], "bernoulli", "{p}");
    };

    // train: a line per epoch and a final one, with one protocol.
    let train = &out["train"][0];
    assert_eq!(train.len(), 2, "{train:?}");
    assert_eq!(
        (&train[0]["data"]["event"], &train[1]["data"]["event"]),
        (&json!("epoch"), &json!("final"))
    );
    assert_eq!(train[0]["protocol"], train[1]["protocol"]);
    let p = &train[0]["protocol"];
    base(p);
    assert_eq!(
        (&p["train_items"], &p["seeds"], &p["epochs"], &p["iwae_k"]),
        (&json!(n_train), &json!([7]), &json!(1), &json!(5))
    );
    assert_eq!((&p["batch"], &p["backend"]), (&json!(128), &json!("cpu")));
    assert_eq!(train[1]["data"]["test"]["iwae_k"], 5);

    // eval: the checkpoint's training, and the k asked for.
    let meta = latent_explorer::checkpoint::load(&f.ckpt, &crate::common::cpu())
        .unwrap()
        .meta;
    let eval = &out["eval"][0];
    assert_eq!(eval.len(), 1);
    let p = &eval[0]["protocol"];
    base(p);
    assert_eq!(
        (&p["train_items"], &p["seeds"], &p["epochs"], &p["batch"]),
        (
            &json!(meta.dataset.train_images),
            &json!([meta.train.seed]),
            &json!(meta.epoch),
            &json!(meta.train.batch_size)
        )
    );
    assert_eq!(
        (&p["iwae_k"], &p["held_out_class"]),
        (&json!(5), &Value::Null)
    );
    assert_eq!(eval[0]["data"]["images"], n_test);

    // anomaly on the model trained without class 3: its training split lacks the threes;
    // the seed is the scoring's; −ELBO scores report no IWAE k.
    let anomaly = &out["anomaly"][0];
    let p = &anomaly[0]["protocol"];
    base(p);
    let not_threes = data.train.labels.iter().filter(|&&l| l != 3).count();
    assert_eq!(
        (
            &p["train_items"],
            &p["held_out_class"],
            &p["seeds"],
            &p["iwae_k"]
        ),
        (&json!(not_threes), &json!(3), &json!([3]), &Value::Null)
    );
    assert_eq!(anomaly[0]["data"]["shift"], "class:3");

    // bench: its batch and timed epochs.
    let p = &out["bench"][0][0]["protocol"];
    base(p);
    assert_eq!(
        (&p["train_items"], &p["epochs"], &p["batch"], &p["iwae_k"]),
        (&json!(n_train), &json!(1), &json!(100), &Value::Null)
    );
    assert_eq!(
        out["bench"][0][0]["data"]["epochs"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // compare: the seeds run; then --from the sweep: what its runs share.
    let compare = &out["compare"];
    let p = &compare[0][0]["protocol"];
    base(p);
    assert_eq!(
        (&p["seeds"], &p["epochs"], &p["batch"], &p["iwae_k"]),
        (&json!([4, 5]), &json!(1), &json!(100), &json!(5))
    );
    assert_eq!(compare[0][0]["data"].as_array().unwrap().len(), 2);
    for (what, lines) in [
        ("compare --from", &compare[1]),
        ("sweep status", &out["sweep status"][0]),
    ] {
        let p = &lines[0]["protocol"];
        base(p);
        assert_eq!(
            (&p["train_items"], &p["seeds"], &p["epochs"], &p["batch"]),
            (&json!(n_train), &json!([0, 1]), &json!(1), &json!(100)),
            "{what}"
        );
        assert_eq!(
            (&p["iwae_k"], &p["backend"]),
            (&Value::Null, &Value::Null),
            "{what}"
        );
    }
    // align: two models' protocol, what they do not share null (one trained without 3).
    let p = &out["align"][0][0]["protocol"];
    base(p);
    assert_eq!(
        (&p["train_items"], &p["epochs"], &p["iwae_k"]),
        (&Value::Null, &json!(1), &Value::Null)
    );
    assert!(out["align"][0][0]["data"]["relative_residual"].is_number());
    assert_eq!(
        out["sweep status"][0][0]["data"]["runs"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // An output that is not JSON is refused beside --json rather than mixed into it.
    for args in [
        vec!["train", "--print-config", "--json"],
        vec!["compare", "--from", s(&sweep), "--csv", "--json"],
    ] {
        let e = crate::explore_tools::fails(&args);
        assert!(
            e.contains("cannot be used with") && e.contains("--json"),
            "{args:?}: {e}"
        );
    }

    // The guide's page names every schema and every protocol key.
    let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/src/json.md"))
        .expect("docs/src/json.md");
    for schema in envelope::ALL {
        assert!(
            page.contains(&schema.name()),
            "json.md lacks {}",
            schema.name()
        );
    }
    for key in PROTOCOL_KEYS {
        assert!(
            page.contains(&format!("`{key}`")),
            "json.md lacks the key {key}"
        );
    }
}

#[test]
fn an_envelope_is_one_line_and_its_protocol_has_every_key_in_order_even_when_null() {
    use latent_explorer::envelope::{Envelope, Protocol, SWEEP_STATUS};
    let e = Envelope::new(
        SWEEP_STATUS,
        Protocol {
            seeds: Some(vec![0, 1]),
            ..Protocol::default()
        },
        json!({"runs": ["a\nb"]}),
    );
    let line = e.line().unwrap();
    assert!(!line.contains('\n'), "{line}");
    let v: Value = serde_json::from_str(&line).unwrap();
    check_envelope(&v, "sweep status");
    assert_eq!(v["protocol"]["seeds"], json!([0, 1]));
    assert_eq!(v["data"]["runs"][0], "a\nb");
    let nulls = v["protocol"].as_object().unwrap();
    assert_eq!(
        nulls.values().filter(|x| x.is_null()).count(),
        PROTOCOL_KEYS.len() - 1
    );
    // In the documented order.
    let at: Vec<usize> = PROTOCOL_KEYS
        .iter()
        .map(|k| line.find(&format!("\"{k}\":")).unwrap())
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{line}");
    // Read back whole.
    let back: Envelope<Value> = serde_json::from_str(&line).unwrap();
    assert_eq!(
        back,
        Envelope::new(SWEEP_STATUS, e.protocol.clone(), e.data.clone())
    );
}

#[test]
fn an_iwae_k_is_reported_only_where_a_variant_has_a_bound() {
    use latent_explorer::envelope::{bound_k, run_bound_k};
    use latent_explorer::variant::VariantKind::{Iwae, Vae, VqVae, WaeMmd};
    assert_eq!(bound_k(50, [Vae]), Some(50));
    assert_eq!(bound_k(0, [Vae]), None);
    assert_eq!(bound_k(50, [WaeMmd]), None);
    assert_eq!(bound_k(50, [WaeMmd, Iwae]), Some(50));
    // A run's last bound: the final evaluation's, else its epochs'.
    assert_eq!(run_bound_k(500, 20, Vae), Some(500));
    assert_eq!(run_bound_k(0, 20, Vae), Some(20));
    assert_eq!(run_bound_k(0, 0, Vae), None);
    assert_eq!(run_bound_k(500, 20, VqVae), None);
}
