//! Checkpoints: bit-identical round trip, named architecture mismatch, crash safety.

use std::io::Write;

use burn::tensor::{Distribution, Tensor};
use latent_explorer::atomic::atomic_write;
use latent_explorer::checkpoint::{self, CheckpointError, CheckpointMeta, DatasetInfo};
use latent_explorer::model::{ArchConfig, Likelihood, Vae};
use latent_explorer::train::TrainConfig;
use latent_explorer::variant::AuxModules;

use crate::common::{bundled, cpu, vec_of};

fn meta_for(cfg: &TrainConfig) -> CheckpointMeta {
    CheckpointMeta::new(cfg.clone(), DatasetInfo::of(&bundled()), 1, 10, None)
}

fn model_for(cfg: &TrainConfig, seed: u64) -> Vae {
    let dev = cpu();
    dev.seed(seed);
    cfg.model.init(&dev).unwrap()
}

fn decode(model: &Vae, z: &Tensor<2>) -> Vec<f32> {
    vec_of(model.decode(z.clone()))
}

#[test]
fn round_trip_gives_bit_identical_decoder_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let dev = cpu();
    for (i, arch) in [ArchConfig::mlp_default(), ArchConfig::conv_default()]
        .into_iter()
        .enumerate()
    {
        let mut cfg = TrainConfig::default();
        cfg.model.arch = arch;
        cfg.model.latent_dim = 8;
        cfg.model.likelihood = Likelihood::Gaussian {
            sigma: 0.3,
            learned: i == 0,
        };
        let model = model_for(&cfg, 100 + i as u64);
        let path = dir.path().join(format!("m{i}.safetensors"));
        checkpoint::save(&path, &model, &AuxModules::empty(), &meta_for(&cfg)).unwrap();
        let loaded = checkpoint::load(&path, &dev).unwrap();
        assert_eq!(loaded.meta, meta_for(&cfg));
        let z: Tensor<2> = Tensor::random([7, 8], Distribution::Normal(0.0, 1.0), &dev);
        let (a, b) = (decode(&model, &z), decode(&loaded.model, &z));
        assert_eq!(a.len(), b.len());
        assert!(
            a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()),
            "decoder outputs differ after a round trip ({})",
            cfg.model.arch
        );
        // A freshly initialised model differs, so the comparison has teeth.
        let other = model_for(&cfg, 999);
        assert_ne!(decode(&other, &z), a);
        if i == 0 {
            let ls = |m: &Vae| vec_of(m.log_sigma.as_ref().unwrap().val());
            assert_eq!(ls(&model), ls(&loaded.model));
        }
    }
}

#[test]
fn weights_are_stored_in_pytorch_layout_with_the_header() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = TrainConfig::default();
    let path = dir.path().join("m.safetensors");
    checkpoint::save(
        &path,
        &model_for(&cfg, 1),
        &AuxModules::empty(),
        &meta_for(&cfg),
    )
    .unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    // PyTorch's nn.Linear(784, 400).weight is [400, 784].
    let w = st.tensor("model.encoder.body.layers.0.weight").unwrap();
    assert_eq!(w.shape(), &[400, 784]);
    assert_eq!(
        st.tensor("model.decoder.out.weight").unwrap().shape(),
        &[784, 400]
    );
    let meta = checkpoint::read_meta(&path, &bytes).unwrap();
    assert_eq!(meta.train, cfg);
    assert_eq!(meta.crate_version, env!("CARGO_PKG_VERSION"));
}

#[test]
fn wrong_architecture_names_the_first_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    let cfg = TrainConfig::default();
    let model = model_for(&cfg, 1);
    // Header says hidden 300 but the weights are from hidden 400.
    let mut lying = cfg.clone();
    lying.model.arch = ArchConfig::Mlp { hidden: vec![300] };
    checkpoint::save(&path, &model, &AuxModules::empty(), &meta_for(&lying)).unwrap();
    let err = checkpoint::load(&path, &cpu()).unwrap_err();
    match &err {
        CheckpointError::ShapeMismatch {
            tensor,
            expected,
            found,
            ..
        } => {
            assert_eq!(tensor, "model.decoder.body.layers.0.bias");
            assert_eq!(
                (expected.as_slice(), found.as_slice()),
                (&[300][..], &[400][..])
            );
        }
        other => panic!("expected a shape mismatch, got {other}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("expected shape [300], found [400]"), "{msg}");
    // A different depth: a tensor is missing.
    let mut deeper = cfg.clone();
    deeper.model.arch = ArchConfig::Mlp {
        hidden: vec![400, 400],
    };
    checkpoint::save(&path, &model, &AuxModules::empty(), &meta_for(&deeper)).unwrap();
    let err = checkpoint::load(&path, &cpu()).unwrap_err();
    // (More parameters than the file holds: refused before a model is built.)
    assert!(
        matches!(err, CheckpointError::Inconsistent { ref what, .. } if what.contains("parameters")),
        "{err}"
    );
    // Same parameter count, another layout: the first differing tensor is named.
    let mut wide = cfg.clone();
    wide.model.arch = ArchConfig::Mlp {
        hidden: vec![200, 400],
    };
    checkpoint::save(&path, &model, &AuxModules::empty(), &meta_for(&wide)).unwrap();
    let err = checkpoint::load(&path, &cpu()).unwrap_err();
    assert!(
        matches!(
            err,
            CheckpointError::Missing { .. } | CheckpointError::ShapeMismatch { .. }
        ),
        "{err}"
    );
}

#[test]
fn corrupt_files_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.safetensors");
    std::fs::write(&path, b"definitely not a checkpoint").unwrap();
    let err = checkpoint::load(&path, &cpu()).unwrap_err();
    assert!(matches!(err, CheckpointError::Format { .. }), "{err}");
    assert!(err.to_string().contains("bad.safetensors"));
    let err = checkpoint::load(&dir.path().join("absent.safetensors"), &cpu()).unwrap_err();
    assert!(matches!(err, CheckpointError::Path(_)), "{err}");
    assert!(
        err.to_string().contains("absent.safetensors: not found"),
        "{err}"
    );
    // A valid safetensors file with no header of ours.
    let plain = safetensors::serialize(
        Vec::<(String, safetensors::tensor::TensorView)>::new(),
        None,
    )
    .unwrap();
    std::fs::write(&path, plain).unwrap();
    let err = checkpoint::load(&path, &cpu()).unwrap_err();
    assert!(matches!(err, CheckpointError::Header { .. }), "{err}");
}

#[test]
fn a_crash_mid_save_leaves_the_previous_checkpoint_loadable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.safetensors");
    let cfg = TrainConfig::default();
    let first = model_for(&cfg, 1);
    checkpoint::save(&path, &first, &AuxModules::empty(), &meta_for(&cfg)).unwrap();
    let before = std::fs::read(&path).unwrap();
    // The next save dies half-way through writing.
    let second = model_for(&cfg, 2);
    let bytes =
        checkpoint::to_bytes(&second, &AuxModules::empty(), &meta_for(&cfg), &path).unwrap();
    let res = atomic_write(&path, |f| {
        f.write_all(&bytes[..bytes.len() / 2])?;
        Err(std::io::Error::other("simulated crash"))
    });
    assert!(res.is_err());
    assert_eq!(std::fs::read(&path).unwrap(), before, "target was modified");
    let loaded = checkpoint::load(&path, &cpu()).unwrap();
    let z: Tensor<2> = Tensor::random([3, 20], Distribution::Normal(0.0, 1.0), &cpu());
    assert_eq!(decode(&loaded.model, &z), decode(&first, &z));
    // No temporary file is left behind.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    // A temp file left by a killed process does not affect loading either.
    std::fs::write(latent_explorer::atomic::temp_path(&path), &bytes[..100]).unwrap();
    assert!(checkpoint::load(&path, &cpu()).is_ok());
}
