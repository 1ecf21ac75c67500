//! README's "Secure your own model", run end to end on models defined here (not the bundled
//! one): a PyTorch CNN is trained for one epoch, exported with the installed PyTorch's default
//! `torch.onnx.export`, planned (`plan distortion` on 8 training images, `plan knapsack`),
//! fine-tuned for one epoch (`patchwork finetune`), and run securely
//! (`eval --secure --approx 43,5 --limit 500`). The secure class must equal the float class on
//! at least 99% of the images, and the fine-tuned model must be more accurate than the model
//! with the same spec and no fine-tuning. The grey model then goes through a second stage of
//! progressive planning (5%, planned on the fine-tuned model with its spec in place).
//!
//! * A grey 28 x 28 CNN on Fashion-MNIST: an input normalisation layer, an 8-channel stem with
//!   BatchNorm, a MaxPool, a residual block, and a ReLU after a linear layer; 10% budget.
//! * A 3-channel 32 x 32 CNN on an image folder made here from Fashion-MNIST (RGB PNGs, each
//!   channel scaled differently), normalised by `--mean`/`--std` instead of a layer; trained
//!   on 12,000 images, 5% budget (at 10% its Block-ReLUs cost it 1 test image in 1,000, too
//!   little to measure fine-tuning against).
//!
//! Needs the Python venv (`$PATCHWORK_VENV`) and Fashion-MNIST; without either, says why and
//! skips.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use patchwork_model::data::fashion::{self, Split};

/// Trains the test's CNN for one epoch and exports it with the default exporter.
/// `python - grey OUT.onnx IDX_DIR` or `python - rgb OUT.onnx FOLDER`.
const TRAIN: &str = r#"
import gzip, os, sys
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F
from PIL import Image
kind, out, data = sys.argv[1:4]
torch.manual_seed(0); torch.set_num_threads(2)
if kind == "grey":
    def idx(name, off):
        with gzip.open(os.path.join(data, name), "rb") as f:
            return np.frombuffer(f.read(), np.uint8, offset=off)
    x = idx("train-images-idx3-ubyte.gz", 16).reshape(-1, 1, 28, 28).astype(np.float32) / 255
    y = idx("train-labels-idx1-ubyte.gz", 8).astype(np.int64)
else:
    xs, ys = [], []
    for label, cls in enumerate(sorted(os.listdir(data))):
        for f in sorted(os.listdir(os.path.join(data, cls))):
            img = np.asarray(Image.open(os.path.join(data, cls, f)).convert("RGB"), np.float32)
            xs.append(img.transpose(2, 0, 1) / 255); ys.append(label)
    x = (np.stack(xs) - 0.286) / 0.353
    y = np.array(ys, np.int64)
x, y = torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y)
c, hw = x.shape[1], x.shape[2]

class Net(nn.Module):
    def __init__(s):
        super().__init__()
        s.register_buffer("mean", torch.tensor(0.286)); s.register_buffer("std", torch.tensor(0.353))
        s.stem = nn.Conv2d(c, 8, 3, padding=1); s.bn = nn.BatchNorm2d(8); s.pool = nn.MaxPool2d(2)
        s.c1 = nn.Conv2d(8, 8, 3, padding=1); s.b1 = nn.BatchNorm2d(8); s.c2 = nn.Conv2d(8, 8, 3, padding=1)
        s.fc1 = nn.Linear(8 * (hw // 4) ** 2, 32); s.fc2 = nn.Linear(32, 10)
    def forward(s, x):
        if kind == "grey":
            x = (x - s.mean) / s.std
        x = s.pool(torch.relu(s.bn(s.stem(x))))
        x = torch.relu(x + s.c2(torch.relu(s.b1(s.c1(x)))))
        x = F.avg_pool2d(x, 2).flatten(1)
        return s.fc2(torch.relu(s.fc1(x)))

m = Net(); opt = torch.optim.Adam(m.parameters(), 2e-3)
perm = torch.randperm(x.shape[0])
for i in range(0, x.shape[0], 128):
    b = perm[i:i + 128]
    loss = F.cross_entropy(m(x[b]), y[b]); opt.zero_grad(); loss.backward(); opt.step()
m.eval()
torch.onnx.export(m, torch.zeros(1, c, hw, hw), out)
"#;

fn patchwork(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_patchwork"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "patchwork {}:\n{}",
        args.join(" "),
        text(&out)
    );
    out
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(o)))
}

/// The venv's Python and the Fashion-MNIST directory, or `None` with the reason printed.
fn requirements() -> Option<PathBuf> {
    let py = patchwork_test_support::python::venv_python();
    let idx = Path::new(fashion::DEFAULT_DIR);
    if py.is_none() || fashion::load(idx, Split::Test).is_err() {
        println!("SKIPPED: needs the Python venv ($PATCHWORK_VENV) and Fashion-MNIST");
        return None;
    }
    py
}

fn train(py: &Path, kind: &str, out: &Path, data: &Path) {
    let mut child = Command::new(py)
        .args(["-", kind])
        .arg(out)
        .arg(data)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(TRAIN.as_bytes())
        .unwrap();
    let done = child.wait_with_output().unwrap();
    assert!(done.status.success(), "training: {}", text(&done));
}

/// The walkthrough from an exported model to a secure evaluation; `data` are the flags of the
/// training images, `test` those of the test images.
fn walkthrough(
    dir: &Path,
    model: &Path,
    budget: &str,
    data: &[&str],
    test: &[&str],
) -> (PathBuf, PathBuf) {
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let (table, spec, tuned) = (
        dir.join("m.distortion.json"),
        dir.join("m.spec.json"),
        dir.join("m.finetuned.onnx"),
    );
    let mut args = vec!["plan", "distortion", "--model"];
    let (model_s, table_s, spec_s, tuned_s) = (s(model), s(&table), s(&spec), s(&tuned));
    args.extend([model_s.as_str(), "--samples", "8", "--out", &table_s]);
    args.extend(data);
    patchwork(&args);
    patchwork(&[
        "plan",
        "knapsack",
        "--table",
        &table_s,
        "--budget-ratio",
        budget,
        "--out",
        &spec_s,
    ]);
    let accuracy = |m: &str| {
        let mut a = vec!["eval", "--model", m, "--spec", &spec_s, "--json"];
        a.extend(test);
        json(&patchwork(&a))["accuracy"].as_f64().unwrap()
    };
    let before = accuracy(&model_s);
    let mut args = vec![
        "finetune", "--model", &model_s, "--spec", &spec_s, "--epochs", "1", "--out", &tuned_s,
    ];
    args.extend(data);
    if test.len() > 1 && test[0] == "--data" {
        args.extend(["--test-data", test[1]]);
    }
    let report = text(&patchwork(&args));
    let after = accuracy(&tuned_s);
    println!("{report}before fine-tuning {before:.4}, after {after:.4}");
    assert!(
        after > before,
        "fine-tuning did not help: {before} -> {after}"
    );
    let log = std::fs::read_to_string(tuned.with_extension("log")).unwrap();
    assert_eq!(
        log.lines()
            .filter(|l| l.contains("\"event\":\"epoch\""))
            .count(),
        1,
        "{log}"
    );
    let mut args = vec![
        "eval", "--model", &tuned_s, "--spec", &spec_s, "--secure", "--approx", "43,5", "--limit",
        "500", "--json",
    ];
    args.extend(test);
    let secure = json(&patchwork(&args));
    let agree = secure["secure_equals_float"].as_u64().unwrap();
    println!("secure: {secure}");
    assert!(agree >= 495, "secure = float on {agree}/500 images");
    (tuned, spec)
}

/// The progressive planning of README: the fine-tuned model measured with its spec in place
/// (`--base-spec`), planned at a smaller budget, fine-tuned again with the original as teacher;
/// better than the new spec on the stage-1 model without fine-tuning.
fn second_stage(dir: &Path, original: &Path, stage1: &Path, spec1: &Path) {
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let (table, spec, tuned) = (
        s(&dir.join("stage2.distortion.json")),
        s(&dir.join("stage2.spec.json")),
        s(&dir.join("stage2.onnx")),
    );
    let (original, stage1, spec1) = (s(original), s(stage1), s(spec1));
    patchwork(&[
        "plan",
        "distortion",
        "--model",
        &stage1,
        "--base-spec",
        &spec1,
        "--samples",
        "8",
        "--out",
        &table,
    ]);
    patchwork(&[
        "plan",
        "knapsack",
        "--table",
        &table,
        "--budget-ratio",
        "0.05",
        "--out",
        &spec,
    ]);
    let accuracy = |m: &str| {
        let a = ["eval", "--model", m, "--spec", &spec, "--json"];
        json(&patchwork(&a))["accuracy"].as_f64().unwrap()
    };
    let before = accuracy(&stage1);
    patchwork(&[
        "finetune",
        "--model",
        &stage1,
        "--teacher",
        &original,
        "--spec",
        &spec,
        "--epochs",
        "1",
        "--limit",
        "20000",
        "--out",
        &tuned,
    ]);
    let after = accuracy(&tuned);
    println!("stage 2 at 5%: before fine-tuning {before:.4}, after {after:.4}");
    assert!(after > before, "stage 2: {before} -> {after}");
}

#[test]
fn a_grey_cnn_of_ones_own_goes_from_pytorch_to_secure_inference() {
    let Some(py) = requirements() else { return };
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("grey.onnx");
    train(&py, "grey", &model, Path::new(fashion::DEFAULT_DIR));
    let (tuned, spec) = walkthrough(dir.path(), &model, "0.1", &[], &[]);
    second_stage(dir.path(), &model, &tuned, &spec);
}

/// Writes Fashion-MNIST images `range` of `split` as RGB 32 x 32 PNGs (2 pixels of black
/// border; red, green and blue scaled by 1, 0.8 and 0.6) into `dir/<class>/<i>.png`.
fn rgb_folder(dir: &Path, split: Split, range: std::ops::Range<usize>) {
    let data = fashion::load(Path::new(fashion::DEFAULT_DIR), split).unwrap();
    for i in range {
        let grey = data.input(i);
        let img = image::RgbImage::from_fn(32, 32, |x, y| {
            let (x, y) = (x as i64 - 2, y as i64 - 2);
            let v = if (0..28).contains(&x) && (0..28).contains(&y) {
                grey[[0, 0, y as usize, x as usize]]
            } else {
                0.0
            };
            image::Rgb([1.0, 0.8, 0.6].map(|s| (v * s * 255.0).round() as u8))
        });
        let class = dir.join(data.labels[i].to_string());
        std::fs::create_dir_all(&class).unwrap();
        img.save(class.join(format!("{i}.png"))).unwrap();
    }
}

#[test]
fn an_rgb_cnn_on_an_image_folder_goes_from_pytorch_to_secure_inference() {
    let Some(py) = requirements() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (train_dir, test_dir) = (dir.path().join("train"), dir.path().join("test"));
    rgb_folder(&train_dir, Split::Train, 0..12_000);
    rgb_folder(&test_dir, Split::Test, 0..1_000);
    let model = dir.path().join("rgb.onnx");
    train(&py, "rgb", &model, &train_dir);
    let norm = ["--mean", "0.286", "--std", "0.353"];
    let (train_s, test_s) = (
        train_dir.to_str().unwrap().to_string(),
        test_dir.to_str().unwrap().to_string(),
    );
    let mut data = vec!["--data", train_s.as_str()];
    data.extend(norm);
    let mut test = vec!["--data", test_s.as_str()];
    test.extend(norm);
    walkthrough(dir.path(), &model, "0.05", &data, &test);
}
