"""Export the test models as ONNX with random weights, and compute onnxruntime outputs.

For each model NAME this writes, into OUT_DIR:
    NAME.onnx          the model (batch 1, float32)
    NAME.input.npy     a random input (float32, NCHW)
    NAME.output.npy    onnxruntime's output on that input (float32)
The Rust integration tests (model/tests/onnx_vs_onnxruntime.rs) load all three and compare the
Patchwork float reference with onnxruntime.

Usage: python python/export_test_models.py OUT_DIR [NAME ...]
Models: resnet18_cifar, resnet50, mobilenet_v2, deeplab_small, ops_mix, and
deeplab_small_unfolded / ops_mix_unfolded (exported without constant folding), all with the
TorchScript exporter; resnet18_cifar_dynamo, mobilenet_v2_dynamo, deeplab_small_dynamo and
ops_mix_dynamo (and small_rgb_dynamo, a small 3-channel CNN) with what a plain `torch.onnx.export(model, (x,), path)` writes today (the dynamo
exporter, its default opset, weights in an external `NAME.onnx.data` file beside the model);
deeplab_small_dynamic and small_rgb_dynamic likewise with symbolic H and W, their input and
output at another size (DYNAMIC_RUN_HW) than the example the export traced.
falcon_lenet, falcon_alexnet_cifar and falcon_vgg16_cifar: Falcon's networks, for its side by side.
BatchNorm statistics are randomised so that folding BatchNorm into Conv is really exercised
(MobileNetV2's are measured on random inputs instead, see calibrate_bn).
"""

import os
import sys

import numpy as np
import onnxruntime as ort
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision


def randomize_bn(model):
    """Random BatchNorm statistics and affine parameters (eval mode uses them)."""
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(c, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(c, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(c, generator=g) * 0.1)
    return model


def calibrate_bn(model, shape):
    """BatchNorm running statistics measured on a batch of random inputs (the affine parameters
    stay random). A deep network without skips around its activations, like MobileNetV2, needs
    it: with random statistics its ReLU6s saturate block after block, and a change of an early
    layer reaches the output at 1e-14 of its energy, too little for any test to see."""
    g = torch.Generator().manual_seed(2)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    model.train()
    with torch.no_grad():
        model(torch.randn(8, *shape[1:], generator=g))
    return model


def resnet18_cifar():
    """ResNet18 for 32x32 inputs: 3x3 stem with stride 1, no max pool, 100 classes."""
    m = torchvision.models.resnet18(num_classes=100)
    m.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
    m.maxpool = nn.Identity()
    return m, (1, 3, 32, 32)


def resnet50():
    return torchvision.models.resnet50(num_classes=1000), (1, 3, 224, 224)


def mobilenet_v2():
    return torchvision.models.mobilenet_v2(num_classes=1000), (1, 3, 224, 224)


class ConvBnRelu(nn.Sequential):
    def __init__(self, cin, cout, k=3, stride=1, dilation=1):
        pad = dilation * (k - 1) // 2
        super().__init__(
            nn.Conv2d(cin, cout, k, stride, pad, dilation=dilation, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(),
        )


class DeepLabSmall(nn.Module):
    """A small DeepLabV3-style segmenter: strided backbone, dilated convs, ASPP with an image
    pooling branch, Concat, and bilinear upsampling back to the input size."""

    def __init__(self, classes=5):
        super().__init__()
        self.backbone = nn.Sequential(
            ConvBnRelu(3, 16, 3, 2), ConvBnRelu(16, 32, 3, 2), ConvBnRelu(32, 32, 3, 1, 2)
        )
        self.aspp = nn.ModuleList(
            [ConvBnRelu(32, 16, 1), ConvBnRelu(32, 16, 3, 1, 2), ConvBnRelu(32, 16, 3, 1, 4)]
        )
        self.pool_conv = ConvBnRelu(32, 16, 1)
        self.project = ConvBnRelu(64, 32, 1)
        self.head = nn.Conv2d(32, classes, 1)

    def forward(self, x):
        size = x.shape[-2:]
        f = self.backbone(x)
        branches = [b(f) for b in self.aspp]
        p = self.pool_conv(F.adaptive_avg_pool2d(f, 1))
        branches.append(F.interpolate(p, size=f.shape[-2:], mode="bilinear", align_corners=False))
        y = self.head(self.project(torch.cat(branches, 1)))
        y = F.interpolate(y, scale_factor=2, mode="bilinear", align_corners=True)
        return F.interpolate(y, size=size, mode="bilinear", align_corners=False)


def deeplab_small():
    return DeepLabSmall(), (1, 3, 64, 64)


class OpsMix(nn.Module):
    """Covers the remaining operators: MaxPool, AvgPool (with and without padding in the
    divisor), ReLU6 (Clip), grouped conv, nearest upsampling, Flatten, MatMul and Gemm."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, 1, 1)
        self.bn = nn.BatchNorm2d(8)
        self.c2 = nn.Conv2d(8, 8, 3, 1, 1, groups=4)
        self.mm = nn.Parameter(torch.randn(8 * 8 * 8, 16) * 0.05)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = F.relu(self.bn(self.c1(x)))
        x = F.max_pool2d(x, 3, 2, 1)
        x = F.avg_pool2d(x, 3, 1, 1, count_include_pad=True)
        x = F.relu6(self.c2(x))
        x = F.avg_pool2d(x, 3, 2, 1, count_include_pad=False)
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = torch.flatten(x, 1)
        return self.fc(F.relu(x @ self.mm))


def ops_mix():
    return OpsMix(), (1, 3, 16, 16)


def small_rgb():
    """A small CNN of a user's own: 3 x 16 x 16 in, 4 classes out (the data-source tests)."""
    return nn.Sequential(
        ConvBnRelu(3, 8), ConvBnRelu(8, 8, 3, 2), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4)
    ), (1, 3, 16, 16)


class Normalized(nn.Module):
    """Input normalisation inside the graph, `(x - mean) / std` per channel, then a constant
    scale after a ReLU (not foldable into a convolution), Squeeze of activations and a
    constant shift of the logits."""

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))
        self.body = nn.Sequential(ConvBnRelu(3, 8), ConvBnRelu(8, 8, 3, 2))
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        x = self.body((x - self.mean) / self.std) * 0.5
        return self.fc(F.adaptive_avg_pool2d(x, 1).squeeze(-1).squeeze(-1)) - 1.0


def normalized():
    return Normalized(), (1, 3, 16, 16)


# Falcon's networks (github.com/snwagh/falcon-public, src/secondary.cpp, selectNetwork), layer
# for layer, for benches/falcon_side_by_side.sh: as there, max pooling comes before the ReLU it
# is paired with, the logits pass a last ReLU, and AlexNet-for-CIFAR has no BatchNorm (the
# script removes Falcon's two, as its NUM_LAYERS = 18 comment has it).
def conv_relu(cin, cout, pool=False):
    layers = [nn.Conv2d(cin, cout, 3, padding=1)]
    return layers + [nn.MaxPool2d(2), nn.ReLU()] if pool else layers + [nn.ReLU()]


def falcon_lenet():
    return nn.Sequential(
        nn.Conv2d(1, 20, 5), nn.MaxPool2d(2), nn.ReLU(),
        nn.Conv2d(20, 50, 5), nn.MaxPool2d(2), nn.ReLU(), nn.Flatten(),
        nn.Linear(800, 500), nn.ReLU(), nn.Linear(500, 10), nn.ReLU(),
    ), (1, 1, 28, 28)


def falcon_alexnet_cifar():
    return nn.Sequential(
        nn.Conv2d(3, 96, 11, stride=4, padding=9), nn.MaxPool2d(3, 2), nn.ReLU(),
        nn.Conv2d(96, 256, 5, padding=1), nn.MaxPool2d(3, 2), nn.ReLU(),
        nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(), nn.Flatten(),
        nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
        nn.Linear(256, 10), nn.ReLU(),
    ), (1, 3, 33, 33)


def falcon_vgg16_cifar():
    widths = [(3, 64), (64, 64, True), (64, 128), (128, 128, True), (128, 256), (256, 256),
              (256, 256, True), (256, 512), (512, 512), (512, 512, True), (512, 512),
              (512, 512), (512, 512, True)]
    layers = [m for w in widths for m in conv_relu(*w)]
    return nn.Sequential(
        *layers, nn.Flatten(), nn.Linear(512, 4096), nn.ReLU(),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Linear(4096, 1000), nn.ReLU(),
    ), (1, 3, 32, 32)


# name -> (builder, opset, constant folding) for the TorchScript exporter; opset None means the
# default exporter with its defaults. Without constant folding the export keeps
# BatchNormalization nodes (folded by Patchwork) and torch's Shape/Gather/Concat plumbing.
MODELS = {
    "resnet18_cifar": (resnet18_cifar, 13, True),
    "resnet50": (resnet50, 17, True),
    "mobilenet_v2": (mobilenet_v2, 13, True),
    "deeplab_small": (deeplab_small, 17, True),
    "ops_mix": (ops_mix, 13, True),
    "deeplab_small_unfolded": (deeplab_small, 17, False),
    "ops_mix_unfolded": (ops_mix, 13, False),
    "resnet18_cifar_dynamo": (resnet18_cifar, None, True),
    "mobilenet_v2_dynamo": (mobilenet_v2, None, True),
    "deeplab_small_dynamo": (deeplab_small, None, True),
    "ops_mix_dynamo": (ops_mix, None, True),
    "small_rgb_dynamo": (small_rgb, None, True),
    "deeplab_small_dynamic": (deeplab_small, "dynamic", True),
    "normalized": (normalized, 13, True),
    "normalized_dynamo": (normalized, None, True),
    "small_rgb_dynamic": (small_rgb, "dynamic", True),
    "falcon_lenet": (falcon_lenet, 13, True),
    "falcon_alexnet_cifar": (falcon_alexnet_cifar, 13, True),
    "falcon_vgg16_cifar": (falcon_vgg16_cifar, 13, True),
}

# Builders whose BatchNorm statistics are measured (calibrate_bn) rather than random.
CALIBRATED_BN = {mobilenet_v2}

# Models exported with symbolic H and W ("dynamic") are run, and their reference output
# computed, at this other size: the Rust side loads them with --input-shape.
DYNAMIC_RUN_HW = (48, 80)


def export(name, out_dir):
    torch.manual_seed(0)
    build, opset, folding = MODELS[name]
    model, shape = build()
    model = randomize_bn(model)
    if build in CALIBRATED_BN:
        model = calibrate_bn(model, shape)
    model = model.eval()
    x = torch.randn(*shape)
    path = os.path.join(out_dir, f"{name}.onnx")
    names = dict(input_names=["input"], output_names=["output"])
    if opset == "dynamic":
        arg = next(iter(__import__("inspect").signature(model.forward).parameters))
        h, w = torch.export.Dim("h", min=8, max=512), torch.export.Dim("w", min=8, max=512)
        torch.onnx.export(model, (x,), path, dynamic_shapes={arg: {2: h, 3: w}}, **names)
        x = torch.randn(shape[0], shape[1], *DYNAMIC_RUN_HW)
    elif opset is None:
        torch.onnx.export(model, (x,), path, **names)
    else:
        kwargs = dict(opset_version=opset, do_constant_folding=folding, **names)
        try:
            torch.onnx.export(model, x, path, dynamo=False, **kwargs)
        except TypeError:
            torch.onnx.export(model, x, path, **kwargs)
    import onnx

    opset = onnx.load(path, load_external_data=False).opset_import[0].version
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    (y,) = sess.run(None, {"input": x.numpy()})
    np.save(os.path.join(out_dir, f"{name}.input.npy"), x.numpy().astype(np.float32))
    np.save(os.path.join(out_dir, f"{name}.output.npy"), y.astype(np.float32))
    print(f"{name}: opset {opset}, input {list(shape)}, output {list(y.shape)}, max |y| {np.abs(y).max():.4g}")


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        sys.exit(2)
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    torch.set_num_threads(1)
    for name in sys.argv[2:] or list(MODELS):
        export(name, out_dir)


if __name__ == "__main__":
    main()
