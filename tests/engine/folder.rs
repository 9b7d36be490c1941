//! Image folders as datasets: colour and grey images of any size, labels from sub-folders,
//! a deterministic split, every bad input a clear error or a counted skip; colour models
//! through the model, the image export and the CLI.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use burn::module::Module;
use image::{GrayImage, Luma, Rgb, RgbImage, Rgba, RgbaImage};
use latent_explorer::data::folder::{self, FolderConfig, FolderError};
use latent_explorer::data::{ImageShape, Source};
use latent_explorer::export::grid_image;
use latent_explorer::model::{ArchConfig, Likelihood, VaeConfig};

use super::common::{cpu, t2, vec_of};

const BIN: &str = env!("CARGO_BIN_EXE_latent-explorer");

/// A procedural colour folder: `per_class` discs and squares (sub-folders `discs/` and
/// `squares/`) of varied colours on varied backgrounds, every image its own size (none
/// square).
pub fn write_colour_folder(dir: &Path, per_class: usize) {
    for (k, class) in ["discs", "squares"].iter().enumerate() {
        let sub = dir.join(class);
        std::fs::create_dir_all(&sub).unwrap();
        for i in 0..per_class {
            let (w, h) = (24 + (i * 7) % 40, 20 + (i * 11 + 3) % 36);
            let colour = [
                (40 + i * 53 % 216) as u8,
                (i * 97 % 256) as u8,
                (255 - i * 31 % 200) as u8,
            ];
            let bg = [20, 20 + (i % 5) as u8 * 30, 60];
            let r = (w.min(h) / 3) as i64;
            let img = RgbImage::from_fn(w as u32, h as u32, |x, y| {
                let (dx, dy) = (x as i64 - w as i64 / 2, y as i64 - h as i64 / 2);
                let inside = if k == 0 {
                    dx * dx + dy * dy <= r * r
                } else {
                    dx.abs() <= r && dy.abs() <= r
                };
                Rgb(if inside { colour } else { bg })
            });
            img.save(sub.join(format!("{i:03}.png"))).unwrap();
        }
    }
}

fn load(dir: &Path, side: usize) -> Result<folder::Folder, FolderError> {
    folder::load(
        &FolderConfig {
            dir: dir.to_path_buf(),
            side,
        },
        &|_, _| {},
    )
}

#[test]
fn a_colour_folder_loads_as_rgb_with_sub_folder_labels_and_a_stable_split() {
    let dir = tempfile::tempdir().unwrap();
    write_colour_folder(dir.path(), 15);
    // Through the same parser the CLI's --data and the app's field use.
    let spec = format!("{}@16", dir.path().display());
    let source = Source::parse(&spec).unwrap();
    assert_eq!(
        source,
        Source::Folder(FolderConfig {
            dir: dir.path().to_path_buf(),
            side: 16
        })
    );
    let calls = std::sync::Mutex::new(Vec::new());
    let opened = source
        .open(&|done, total| calls.lock().unwrap().push((done, total)))
        .unwrap();
    let calls = calls.into_inner().unwrap();
    assert_eq!(calls.first(), Some(&(0, 30)));
    assert_eq!(calls.last(), Some(&(30, 30)), "progress reaches the end");
    let data = &opened.data;
    assert_eq!(
        data.shape(),
        ImageShape {
            rows: 16,
            cols: 16,
            channels: 3
        }
    );
    assert_eq!(opened.classes, ["discs", "squares"]);
    assert_eq!(opened.skipped.total(), 0);
    assert_eq!((data.train.len(), data.test.len()), (24, 6));
    assert_eq!(data.train.pixels.len(), 24 * 16 * 16 * 3);
    let labels: Vec<u8> = data
        .train
        .labels
        .iter()
        .chain(&data.test.labels)
        .copied()
        .collect();
    assert_eq!(labels.iter().filter(|&&l| l == 0).count(), 15);
    assert_eq!(labels.iter().filter(|&&l| l == 1).count(), 15);
    assert!(matches!(
        data.train.pixels,
        latent_explorer::data::Pixels::U8(_)
    ));
    // The centre of every disc and square is its colour, not the background: the crop is
    // central. (Image i's colour has red ≥ 40/255; every background has red 20/255.)
    for split in [&data.train, &data.test] {
        for i in 0..split.len() {
            let red_centre = split.image(i)[8 * 16 + 8];
            assert!(
                red_centre >= 39.0 / 255.0,
                "image {i}: centre red {red_centre}"
            );
        }
    }
    // The same folder splits the same way.
    let again = load(dir.path(), 16).unwrap().data;
    assert_eq!(again.test.pixels, data.test.pixels);
    assert_eq!(again.train.labels, data.train.labels);
    // Adding a file moves at most one test image out of the test split.
    RgbImage::from_pixel(30, 30, Rgb([1, 2, 3]))
        .save(dir.path().join("discs/zzz-new.png"))
        .unwrap();
    let more = load(dir.path(), 16).unwrap().data;
    assert_eq!(more.train.len() + more.test.len(), 31);
    let kept = (0..data.test.len())
        .filter(|&i| (0..more.test.len()).any(|j| more.test.image(j) == data.test.image(i)))
        .count();
    assert!(
        kept >= data.test.len() - 1,
        "only {kept} of 6 test images kept"
    );
}

fn png_bytes(img: image::DynamicImage) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    img.write_to(&mut buf, image::ImageFormat::Png).unwrap();
    buf.into_inner()
}

#[test]
fn fitting_crops_the_central_square_and_keeps_exact_colours() {
    // Six columns: red, red, green, green, blue, blue. The central 2×2 is green.
    let wide = RgbImage::from_fn(6, 2, |x, _| {
        Rgb(match x / 2 {
            0 => [255, 0, 0],
            1 => [0, 255, 0],
            _ => [0, 0, 255],
        })
    });
    let fitted = folder::decode_image(&png_bytes(wide.into()), 2).unwrap();
    assert!(fitted.pixels().all(|p| p.0 == [0, 255, 0]), "{fitted:?}");
    // A tall one: the middle rows.
    let tall = RgbImage::from_fn(1, 3, |_, y| Rgb([y as u8 * 100, 7, 9]));
    let fitted = folder::decode_image(&png_bytes(tall.into()), 1).unwrap();
    assert_eq!(fitted.get_pixel(0, 0).0, [100, 7, 9]);
    // A 1-pixel image grows to a flat colour.
    let one = RgbImage::from_pixel(1, 1, Rgb([200, 10, 90]));
    let fitted = folder::decode_image(&png_bytes(one.into()), 5).unwrap();
    assert_eq!(fitted.dimensions(), (5, 5));
    assert!(fitted.pixels().all(|p| p.0 == [200, 10, 90]));
    // Transparent pixels are white, half-transparent ones half way to it.
    let rgba = RgbaImage::from_fn(2, 1, |x, _| Rgba([0, 0, 0, if x == 0 { 0 } else { 128 }]));
    let fitted = folder::decode_image(&png_bytes(rgba.into()), 1);
    // 2×1: the central square is the left or right pixel (x = 0 here).
    assert_eq!(fitted.unwrap().get_pixel(0, 0).0, [255, 255, 255]);
    // Shrinking averages: a 4×4 checkerboard of 0/255 becomes mid-grey at 1×1.
    let board = RgbImage::from_fn(4, 4, |x, y| Rgb([((x + y) % 2 * 255) as u8; 3]));
    let v = folder::decode_image(&png_bytes(board.into()), 1)
        .unwrap()
        .get_pixel(0, 0)
        .0[0];
    assert!((126..=129).contains(&v), "{v}");
}

#[test]
fn grey_images_make_a_one_channel_dataset() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..5u8 {
        GrayImage::from_pixel(8, 8, Luma([i * 50]))
            .save(dir.path().join(format!("g{i}.png")))
            .unwrap();
    }
    // An RGB file whose every pixel is grey counts as grey too.
    RgbImage::from_pixel(8, 8, Rgb([77; 3]))
        .save(dir.path().join("rgb-but-grey.png"))
        .unwrap();
    let f = load(dir.path(), 4).unwrap();
    assert_eq!(f.data.shape(), ImageShape::grey(4, 4));
    assert!(f.classes.is_empty(), "no sub-folders: unlabelled");
    let mut values: Vec<f32> = f
        .data
        .train
        .pixels
        .to_f32()
        .iter()
        .chain(&f.data.test.pixels.to_f32())
        .step_by(16)
        .copied()
        .collect();
    values.sort_by(f32::total_cmp);
    let mut want: Vec<f32> = [0.0, 50.0, 77.0, 100.0, 150.0, 200.0]
        .iter()
        .map(|v| v / 255.0)
        .collect();
    want.sort_by(f32::total_cmp);
    assert_eq!(values, want);
}

/// A real 20,000 × 20,000 grey PNG (all black), written without ever holding its pixels:
/// the rows are compressed as they are produced (≈0.4 MB on disk, 400 MB decoded).
fn write_huge_png(path: &Path, side: u32) {
    let chunk = |out: &mut Vec<u8>, kind: &[u8], data: &[u8]| {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        out.extend_from_slice(&crc.sum().to_be_bytes());
    };
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&side.to_be_bytes());
    ihdr.extend_from_slice(&side.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit grey, no interlace
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    let row = vec![0u8; side as usize + 1]; // filter byte 0, then the row
    for _ in 0..side {
        z.write_all(&row).unwrap();
    }
    let idat = z.finish().unwrap();
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(&mut png, b"IDAT", &idat);
    chunk(&mut png, b"IEND", &[]);
    std::fs::write(path, png).unwrap();
}

#[test]
fn bad_folders_give_clear_errors_or_counted_skips() {
    // An empty folder.
    let empty = tempfile::tempdir().unwrap();
    let e = load(empty.path(), 16).unwrap_err().to_string();
    assert!(
        e.contains("no usable images") && e.contains("among 0 files"),
        "{e}"
    );
    // Only a text file.
    let text = tempfile::tempdir().unwrap();
    std::fs::write(text.path().join("notes.txt"), "hello").unwrap();
    let e = load(text.path(), 16).unwrap_err().to_string();
    assert!(
        e.contains("1 not an image") && e.contains("notes.txt"),
        "{e}"
    );
    // One image: nothing to test on.
    let one = tempfile::tempdir().unwrap();
    RgbImage::new(3, 3).save(one.path().join("a.png")).unwrap();
    let e = load(one.path(), 16).unwrap_err().to_string();
    assert!(e.contains("only one usable image"), "{e}");

    // Good images of mixed sizes (a 1-pixel one too) among bad files.
    let mixed = tempfile::tempdir().unwrap();
    let m = mixed.path();
    for (i, (w, h)) in [(1, 1), (300, 17), (17, 300), (64, 64), (5, 9), (40, 30)]
        .into_iter()
        .enumerate()
    {
        RgbImage::from_pixel(w, h, Rgb([i as u8 * 40, 100, 200]))
            .save(m.join(format!("ok{i}.png")))
            .unwrap();
    }
    std::fs::write(m.join("readme.txt"), "not an image").unwrap();
    let good = png_bytes(RgbImage::from_pixel(9, 9, Rgb([1, 2, 3])).into());
    std::fs::write(m.join("broken.png"), &good[..good.len() / 2]).unwrap();
    std::fs::write(m.join("noise.jpg"), [0xFFu8, 0xD8, 0xFF, 0x00, 0x13, 0x37]).unwrap();
    write_huge_png(&m.join("huge.png"), 20_000);
    let f = load(m, 8).unwrap();
    assert_eq!(f.data.train.len() + f.data.test.len(), 6);
    assert_eq!(
        (
            f.skipped.not_images,
            f.skipped.unreadable,
            f.skipped.too_large
        ),
        (1, 2, 1),
        "{:?}",
        f.skipped
    );
    let said = f.skipped.describe();
    for part in [
        "skipped 4 files",
        "readme.txt",
        "broken.png",
        "noise.jpg",
        "huge.png: 20000x20000 pixels",
    ] {
        assert!(said.contains(part), "{part:?} not in {said}");
    }
    // Sizes: a side out of range, a side that is not a number, a dataset too large to hold.
    let e = load(m, 0).unwrap_err().to_string();
    assert!(e.contains("image side") && e.contains("at least 1"), "{e}");
    let e = load(m, 5000).unwrap_err().to_string();
    assert!(e.contains("image side") && e.contains("1024"), "{e}");
    let e = Source::parse(&format!("{}@big", m.display())).unwrap_err();
    assert!(e.contains("whole number"), "{e}");
    let many = tempfile::tempdir().unwrap();
    let tiny = png_bytes(RgbImage::new(1, 1).into());
    // 1,400 images at 1024² × 3 are 4.4 G values, past the 4 Gi limit.
    for i in 0..1400 {
        std::fs::write(many.path().join(format!("{i}.png")), &tiny).unwrap();
    }
    let e = load(many.path(), 1024).unwrap_err().to_string();
    assert!(
        e.contains("1400 images of 1024x1024") && e.contains("choose a smaller side"),
        "{e}"
    );
}

#[test]
fn colour_models_take_three_planes_and_their_parameters_are_counted() {
    let dev = cpu();
    for arch in [
        ArchConfig::Mlp { hidden: vec![32] },
        ArchConfig::Conv {
            channels: [4, 8],
            dense: 16,
        },
    ] {
        for likelihood in [
            Likelihood::Bernoulli,
            Likelihood::Gaussian {
                sigma: 0.1,
                learned: true,
            },
        ] {
            let cfg = VaeConfig {
                arch: arch.clone(),
                latent_dim: 3,
                likelihood,
                rows: 8,
                cols: 8,
                channels: 3,
                ..VaeConfig::default()
            };
            let model = cfg.init(&dev).unwrap();
            assert_eq!(cfg.parameter_count().unwrap(), model.num_params(), "{arch}");
            let x = t2(vec![0.5; 2 * 192], [2, 192], &dev);
            let out = model.reconstruct(x, None);
            assert_eq!(out.dims(), [2, 192], "{arch}");
            assert!(vec_of(out).iter().all(|v| v.is_finite()));
        }
    }
    // The conv model's first layer sees three input planes (a grey one sees one).
    let conv = |channels| VaeConfig {
        arch: ArchConfig::conv_default(),
        rows: 8,
        cols: 8,
        channels,
        ..VaeConfig::default()
    };
    let grey = conv(1).parameter_count().unwrap();
    let colour = conv(3).parameter_count().unwrap();
    // conv1 gains 2·32·16 weights; the last deconvolution 2·32·16 weights and 2 biases.
    assert_eq!(colour - grey, 2 * 32 * 16 + 2 * 32 * 16 + 2);
}

#[test]
fn colour_grids_are_rgb_images_of_the_planes() {
    // Two 2×2 tiles; tile t's planes are R = 0.1·t + pixel/10, G = 1, B = 0.
    let shape = ImageShape {
        rows: 2,
        cols: 2,
        channels: 3,
    };
    let mut px = Vec::new();
    for t in 0..2 {
        px.extend((0..4).map(|p| 0.1 * t as f32 + p as f32 / 10.0));
        px.extend([1.0; 4]);
        px.extend([0.0; 4]);
    }
    let img = grid_image(&px, shape, 2, 1);
    let rgb = img.as_rgb8().expect("an RGB grid");
    assert_eq!(rgb.dimensions(), (2 * 2 + 3, 2 + 2));
    // Tile 1's pixel (1, 0) sits at x = 1 + 2 + 1 + 1, y = 1.
    let want_r = ((0.1 + 0.1) * 255.0f32).round() as u8;
    assert_eq!(rgb.get_pixel(5, 1).0, [want_r, 255, 0]);
    assert_eq!(rgb.get_pixel(0, 0).0, [128; 3], "the gap");
    // A grey grid stays grey.
    let grey = grid_image(&[0.0, 1.0], ImageShape::grey(1, 2), 1, 0);
    assert_eq!(grey.as_luma8().unwrap().as_raw(), &vec![0, 255]);
}

#[test]
fn the_cli_trains_on_a_colour_folder_and_writes_colour_images() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("shapes");
    write_colour_folder(&data, 20);
    std::fs::write(data.join("notes.txt"), "not an image").unwrap();
    let spec = format!("{}@16", data.display());
    let ck = dir.path().join("c.safetensors");
    let run = |args: &[&str]| {
        let out = Command::new(BIN).args(args).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stdout, stderr) = run(&[
        "train",
        "--data",
        &spec,
        "--arch",
        "conv",
        "--epochs",
        "2",
        "--batch",
        "8",
        "--final-iwae-k",
        "0",
        "--out",
        ck.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("skipped 1 file: 1 not an image"),
        "the skip is shown: {stderr}"
    );
    let meta = latent_explorer::checkpoint::read_meta(&ck, &std::fs::read(&ck).unwrap()).unwrap();
    assert_eq!(meta.train.model.channels, 3);
    assert_eq!(meta.dataset.channels, 3);
    let sample = dir.path().join("s.png");
    let (code, _, stderr) = run(&[
        "sample",
        ck.to_str().unwrap(),
        "--out",
        sample.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    let img = image::open(&sample).unwrap();
    assert_eq!(img.color(), image::ColorType::Rgb8);
    let recon = dir.path().join("r.png");
    let (code, _, stderr) = run(&[
        "reconstruct",
        ck.to_str().unwrap(),
        "--data",
        &spec,
        "--out",
        recon.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(image::open(&recon).unwrap().color(), image::ColorType::Rgb8);
    // The colour model meets grey digits: refused, saying why.
    let (code, _, stderr) = run(&["eval", ck.to_str().unwrap()]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("takes 16x16 RGB images") && stderr.contains("has 28x28"),
        "{stderr}"
    );
    // An empty folder: a clear error, no checkpoint.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let none = dir.path().join("none.safetensors");
    let (code, _, stderr) = run(&[
        "train",
        "--data",
        empty.to_str().unwrap(),
        "--out",
        none.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("no usable images"), "{stderr}");
    assert!(!none.exists());
}

#[test]
fn a_colour_input_image_is_fitted_like_the_folders_images() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.png");
    let img = RgbImage::from_fn(40, 20, |x, y| Rgb([x as u8 * 6, y as u8 * 12, 200]));
    img.save(&path).unwrap();
    let shape = ImageShape {
        rows: 8,
        cols: 8,
        channels: 3,
    };
    let got = latent_explorer::data::input::load_colour(&path, shape).unwrap();
    assert_eq!(got.original, (40, 20));
    assert!(!got.inverted);
    let want = folder::decode_image(&std::fs::read(&path).unwrap(), 8).unwrap();
    let planes: Vec<f32> = (0..3)
        .flat_map(|c| want.pixels().map(move |p| p.0[c] as f32 / 255.0))
        .collect();
    assert_eq!(
        got.pixels, planes,
        "the same pixels as a folder image, as planes"
    );
    // Not an image: a clear error naming the file.
    std::fs::write(dir.path().join("x.png"), "text").unwrap();
    let e = latent_explorer::data::input::load_colour(&dir.path().join("x.png"), shape)
        .unwrap_err()
        .to_string();
    assert!(e.contains("x.png") && e.contains("not a readable"), "{e}");
}
