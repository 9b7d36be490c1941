//! Attribute directions (issue 29 item 7): the direction from set B's mean code to set A's,
//! its sets' syntax, `traverse --direction` (whose images are the decodes of the two means),
//! and the app's cursor moved along each run's own direction.

use std::sync::Arc;

use latent_explorer::checkpoint;
use latent_explorer::explore::{
    CodeLabels, DirectionError, DirectionSpec, ItemSet, along, amounts, attribute_direction,
    decode_codes, encode_split, mean_code,
};
use latent_explorer::ui::decoder::{Job, ViewKey};
use latent_explorer::ui::settings::CompareTab;
use latent_explorer::ui::{AppOptions, UiCommand};

use crate::app::{harness, nth_run, options, quiesce, run_until};
use crate::common::{Lcg, cpu, max_abs_diff};
use crate::explore_tools::{fails, fixture, fixture_data, ok, s};

#[test]
fn the_direction_is_the_difference_of_the_two_sets_mean_codes() {
    let mut rng = Lcg(7);
    let (n, d) = (40, 5);
    let codes = rng.normals(n * d);
    let a = [1, 4, 9, 30];
    let b = [0, 2, 3, 17, 39];
    let dir = attribute_direction(&codes, d, &a, &b).unwrap();
    // Host means, written out.
    let host_mean = |set: &[usize]| -> Vec<f32> {
        (0..d)
            .map(|j| {
                (set.iter().map(|&i| codes[i * d + j] as f64).sum::<f64>() / set.len() as f64)
                    as f32
            })
            .collect()
    };
    let (ma, mb) = (host_mean(&a), host_mean(&b));
    assert!(max_abs_diff(&dir.to, &ma) < 1e-6);
    assert!(max_abs_diff(&dir.from, &mb) < 1e-6);
    let diff: Vec<f32> = ma.iter().zip(&mb).map(|(x, y)| x - y).collect();
    assert!(max_abs_diff(&dir.vector, &diff) < 1e-6);
    assert_eq!(dir.sizes, (4, 5));
    // From B's mean, one whole step lands on A's mean; half a step halfway.
    let z = along(&dir.from, &dir.vector, &[0.0, 0.5, 1.0]);
    assert!(max_abs_diff(&z[..d], &mb) < 1e-6);
    assert!(max_abs_diff(&z[2 * d..], &ma) < 1e-6);
    let mid: Vec<f32> = ma.iter().zip(&mb).map(|(x, y)| 0.5 * (x + y)).collect();
    assert!(max_abs_diff(&z[d..2 * d], &mid) < 1e-6);
    assert_eq!(mean_code(&codes, d, &a).unwrap(), dir.to);
    assert_eq!(amounts(-1.0, 2.0, 4), vec![-1.0, 0.0, 1.0, 2.0]);
}

#[test]
fn the_separation_is_the_mean_gap_over_the_pooled_spread_along_the_direction() {
    // Two sets on a line along z0, each spread ±0.5 about its mean (population standard
    // deviation 0.5), 3 apart: 6 standard deviations. The other coordinates are equal
    // within a set pair and add nothing along the direction.
    let d = 3;
    let rows: [[f32; 3]; 4] = [
        [2.5, 1.0, -2.0],
        [3.5, 1.0, -2.0],
        [-0.5, 1.0, -2.0],
        [0.5, 1.0, -2.0],
    ];
    let codes: Vec<f32> = rows.concat();
    let dir = attribute_direction(&codes, d, &[0, 1], &[2, 3]).unwrap();
    assert!((dir.length() - 3.0).abs() < 1e-6);
    let sep = dir.separation.unwrap();
    assert!((sep - 6.0).abs() < 1e-6, "separation {sep}");
    // Sets without spread along it: not defined, not infinite.
    let dir = attribute_direction(&codes, d, &[0], &[2]).unwrap();
    assert_eq!(dir.separation, None);
    // Bad sets are errors that name the set.
    assert!(matches!(
        attribute_direction(&codes, d, &[], &[2]),
        Err(DirectionError::Empty { which: 'A', .. })
    ));
    assert!(matches!(
        attribute_direction(&codes, d, &[0], &[4]),
        Err(DirectionError::OutOfRange {
            which: 'B',
            index: 4,
            n: 4
        })
    ));
    assert!(matches!(
        attribute_direction(&codes[..5], d, &[0], &[1]),
        Err(DirectionError::Shape { .. })
    ));
}

#[test]
fn direction_sets_parse_print_back_and_say_what_is_wrong() {
    let spec = DirectionSpec::parse("label:7/3,17,40-43, 5").unwrap();
    assert_eq!(spec.a, ItemSet::Label(7));
    assert_eq!(spec.b, ItemSet::Items(vec![3, 5, 17, 40, 41, 42, 43]));
    assert_eq!(spec.to_string(), "label:7/3,5,17,40-43");
    assert_eq!(DirectionSpec::parse(&spec.to_string()).unwrap(), spec);
    let labels = [7u8, 1, 7, 2, 7];
    assert_eq!(
        ItemSet::Label(7).resolve(&labels, 5, 'A').unwrap(),
        vec![0, 2, 4]
    );
    // Only the encoded items count.
    assert_eq!(
        ItemSet::Label(7).resolve(&labels, 3, 'A').unwrap(),
        vec![0, 2]
    );
    assert!(matches!(
        ItemSet::Label(9).resolve(&labels, 5, 'A'),
        Err(DirectionError::Empty { which: 'A', .. })
    ));
    assert!(matches!(
        ItemSet::Items(vec![1, 5]).resolve(&labels, 5, 'B'),
        Err(DirectionError::OutOfRange {
            which: 'B',
            index: 5,
            n: 5
        })
    ));
    for (bad, says) in [
        ("label:7", "no '/'"),
        ("1/2/3", "more than one"),
        ("label:x/1", "set A"),
        ("1/9-3", "backwards"),
        ("1/", "set B"),
        ("1,a/2", "'a'"),
        ("0-99999999/1", "names over"),
    ] {
        let e = DirectionSpec::parse(bad).unwrap_err().to_string();
        assert!(e.contains(says), "{bad}: {e}");
    }
}

/// The `t`-th 28×28 tile of a one-row grid PNG (tiles 28 pixels, gaps and border 2).
fn tile(img: &image::GrayImage, t: usize) -> Vec<f32> {
    let x0 = 2 + t as u32 * 30;
    let mut v = Vec::with_capacity(784);
    for y in 2..30 {
        for x in x0..x0 + 28 {
            v.push(img.get_pixel(x, y)[0] as f32 / 255.0);
        }
    }
    v
}

#[test]
fn cli_traverse_direction_decodes_from_b_s_mean_code_to_a_s() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("dir.png");
    let text = ok(&[
        "traverse",
        s(&f.ckpt),
        "--data",
        s(&f.data),
        "--out",
        s(&png),
        "--direction",
        "label:7/label:1",
        "--steps",
        "3",
    ]);
    let img = image::open(&png).unwrap().to_luma8();
    assert_eq!(img.dimensions(), (3 * 28 + 4 * 2, 28 + 2 * 2));
    // The library's codes of the same test set, the two means decoded.
    let loaded = checkpoint::load(&f.ckpt, &cpu()).unwrap();
    let data = fixture_data();
    let post = encode_split(&loaded.model, &data.test, &cpu(), 100);
    let d = post.dim;
    let of = |k: u8| -> Vec<usize> {
        (0..post.len())
            .filter(|&i| data.test.labels[i] == k)
            .collect()
    };
    let (sevens, ones) = (of(7), of(1));
    let want = attribute_direction(&post.mu, d, &sevens, &ones).unwrap();
    let means = [want.from.clone(), want.to.clone()].concat();
    let px = decode_codes(&loaded.model, means, d, CodeLabels::None, &cpu()).unwrap();
    // PNG bytes round to 1/255.
    assert!(
        max_abs_diff(&tile(&img, 0), &px[..784]) <= 0.5 / 255.0 + 1e-4,
        "t = 0 is not B's mean decoded"
    );
    assert!(
        max_abs_diff(&tile(&img, 2), &px[784..]) <= 0.5 / 255.0 + 1e-4,
        "t = 1 is not A's mean decoded"
    );
    // (A one-epoch model's means decode blurry, but not to one image.)
    let apart = max_abs_diff(&tile(&img, 0), &tile(&img, 2));
    assert!(apart > 1.5 / 255.0, "the ends are one image: {apart}");
    // The figures printed are the library's.
    assert!(text.contains(&format!("({} test", ones.len())), "{text}");
    assert!(
        text.contains(&format!("length |A − B|: {:.4}", want.length())),
        "{text}"
    );
    let sep = want.separation.unwrap();
    assert!(
        text.contains(&format!("separation along it: {sep:.2}")),
        "{text}"
    );

    // The same sets from a file, and an --along range from a digit's code: t = 0 is it.
    let spec_file = dir.path().join("spec.txt");
    let indices = ItemSet::of_items(sevens.iter().copied());
    std::fs::write(&spec_file, format!("{indices}/label:1\n")).unwrap();
    let png2 = dir.path().join("dir2.png");
    ok(&[
        "traverse",
        s(&f.ckpt),
        "--data",
        s(&f.data),
        "--out",
        s(&png2),
        "--direction",
        &format!("@{}", s(&spec_file)),
        "--digit",
        "4",
        "--along",
        "0:2",
        "--steps",
        "2",
    ]);
    let img2 = image::open(&png2).unwrap().to_luma8();
    let ends = [
        post.mean(4).unwrap().to_vec(),
        along(post.mean(4).unwrap(), &want.vector, &[2.0]),
    ]
    .concat();
    let label = data.test.labels[4] as usize;
    let px2 = decode_codes(&loaded.model, ends, d, CodeLabels::All(label), &cpu()).unwrap();
    assert!(max_abs_diff(&tile(&img2, 0), &px2[..784]) <= 0.5 / 255.0 + 1e-4);
    assert!(max_abs_diff(&tile(&img2, 1), &px2[784..]) <= 0.5 / 255.0 + 1e-4);

    // Bad input: clear errors, nothing written.
    let bad = dir.path().join("bad.png");
    for (args, says) in [
        (vec!["--direction", "label:7"], "no '/'"),
        (vec!["--direction", "1,2/299-300"], "out of range"),
        (
            vec!["--direction", "label:7/label:1", "--along", "1:1"],
            "equal",
        ),
        (vec!["--along", "0:1"], "--direction"),
        (
            vec!["--direction", "label:7/label:1", "--dims", "2"],
            "--dims",
        ),
        (vec!["--direction", "@/nonexistent/spec"], "reading"),
    ] {
        let mut all = vec![
            "traverse",
            s(&f.ckpt),
            "--data",
            s(&f.data),
            "--out",
            s(&bad),
        ];
        all.extend(args.iter().copied());
        let e = fails(&all);
        assert!(e.contains(says), "{args:?}: {e}");
        assert!(!bad.exists(), "{args:?} wrote a file");
    }
}

#[test]
fn app_cursor_moves_along_each_runs_own_direction() {
    let f = fixture();
    let mut opts: AppOptions = options(1000, 50, 20);
    opts.data = Some(Arc::new(fixture_data()));
    opts.autostart = false;
    // Two runs: the same weights twice and another model, each with its own codes.
    opts.open = vec![f.ckpt.clone(), f.held_out.clone()];
    if let Some(v) = opts.view.as_mut() {
        v.compare_tab = CompareTab::Latents;
    }
    // As `app --direction label:7/label:1 --along 0.5` starts it.
    opts.direction = Some((DirectionSpec::parse("label:7/label:1").unwrap(), 0.5));
    let mut h = harness(opts);
    run_until(&mut h, 90, "both runs' codes", |a| {
        a.runs.iter().count() == 2 && a.runs.iter().all(|r| r.views.stats.is_some())
    });
    quiesce(&mut h);
    let labels = fixture_data().test.labels;
    let of = |k: u8| -> Vec<usize> { (0..labels.len()).filter(|&i| labels[i] == k).collect() };
    let dir = &h.state().runs.cursor.direction;
    assert_eq!((dir.a.clone(), dir.b.clone(), dir.t), (of(7), of(1), 0.5));
    let (set_a, set_b) = (vec![2usize, 5, 11, 40], vec![0usize, 1, 7]);
    let app = h.state_mut();
    app.push_command(UiCommand::SelectDigits(set_a.clone()));
    app.push_command(UiCommand::SetDirectionSet(true));
    app.push_command(UiCommand::SelectDigits(set_b.clone()));
    app.push_command(UiCommand::SetDirectionSet(false));
    app.push_command(UiCommand::EncodeDigit(9));
    app.push_command(UiCommand::SetAlong(0.75));
    h.step();
    let dir = &h.state().runs.cursor.direction;
    assert_eq!(
        (dir.a.clone(), dir.b.clone(), dir.t),
        (set_a.clone(), set_b.clone(), 0.75)
    );
    assert_eq!(
        dir.spec().unwrap().to_string(),
        "2,5,11,40/0-1,7",
        "the text the map copies for --direction"
    );
    quiesce(&mut h);
    let app = h.state();
    let mut vectors = Vec::new();
    for i in 0..2 {
        let run = nth_run(app, i);
        let st = run.views.stats.as_ref().unwrap();
        let d = st.latent;
        // Host: digit 9's code + 0.75 (mean of A's codes − mean of B's), this run's codes.
        let host_mean = |set: &[usize]| -> Vec<f64> {
            (0..d)
                .map(|j| {
                    set.iter().map(|&k| st.codes[k * d + j] as f64).sum::<f64>() / set.len() as f64
                })
                .collect()
        };
        let (ma, mb) = (host_mean(&set_a), host_mean(&set_b));
        let want: Vec<f32> = (0..d)
            .map(|j| (st.codes[9 * d + j] as f64 + 0.75 * (ma[j] - mb[j])) as f32)
            .collect();
        let got = app.runs.cursor.latent_for(run).unwrap();
        assert!(
            max_abs_diff(&got, &want) < 1e-5,
            "run {i}: {got:?} vs {want:?}"
        );
        // The slider image is decoded there; the sliders show the base (digit 9's code).
        let Some(Job::Decode { z, n: 1, .. }) = run.views.jobs.get(&ViewKey::Slider) else {
            panic!(
                "run {i}: no slider job: {:?}",
                run.views.jobs.get(&ViewKey::Slider)
            );
        };
        assert!(
            max_abs_diff(z, &want) < 1e-5,
            "run {i}: the slider job's point"
        );
        let base = app.runs.cursor.base_for(run).unwrap();
        assert_eq!(base, st.codes[9 * d..10 * d].to_vec());
        vectors.push(
            ma.iter()
                .zip(&mb)
                .map(|(x, y)| (x - y) as f32)
                .collect::<Vec<f32>>(),
        );
    }
    assert!(
        max_abs_diff(&vectors[0], &vectors[1]) > 1e-3,
        "the two runs share one direction"
    );
    // t = 0 and Clear leave the base point.
    h.state_mut().push_command(UiCommand::ClearDirection);
    h.step();
    let app = h.state();
    let run = nth_run(app, 0);
    assert_eq!(
        app.runs.cursor.latent_for(run).unwrap(),
        app.runs.cursor.base_for(run).unwrap()
    );
}
