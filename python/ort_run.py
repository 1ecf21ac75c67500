"""Run an ONNX model with onnxruntime on each item of a batch, one at a time.

Usage: python python/ort_run.py MODEL.onnx INPUTS.npy OUTPUTS.npy
INPUTS.npy holds N inputs stacked on axis 0 (float32, or uint8 images that are divided by 255
and given a channel axis); OUTPUTS.npy gets the N outputs stacked the same way.
"""

import sys

import numpy as np
import onnxruntime as ort


def main():
    model, inputs, outputs = sys.argv[1:4]
    sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    meta = sess.get_inputs()[0]
    x = np.load(inputs)
    if x.dtype == np.uint8:
        x = x.astype(np.float32) / 255.0
    ys = []
    for item in x:
        item = item.reshape([1 if isinstance(d, str) else d for d in meta.shape]).astype(np.float32)
        (y,) = sess.run(None, {meta.name: item})
        ys.append(y[0])
    np.save(outputs, np.stack(ys).astype(np.float32))


if __name__ == "__main__":
    main()
