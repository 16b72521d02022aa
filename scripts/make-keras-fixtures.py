#!/usr/bin/env python3
"""Writes the small Keras HDF5 weight files under Tests/Fixtures/keras/ that
KerasWeightsFileTests reads: the layouts Keras 2, Keras 3 (legacy .h5) and a
whole-model save produce, written directly with h5py the way those versions
write them (no Keras needed), and malformed variants that must be refused.

Every weight's values are arange(n) * 0.25 + start, in float32, so a test can
check any value from its index. Run from anywhere: pip install h5py numpy.
"""
import os

import h5py
import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "keras")

# (layer, [(weight name without ':0', shape, start)]): a ResNet stem as in
# keras.applications: input and activation without weights, a conv, its BatchNorm.
LAYERS = [
    ("input_1", []),
    ("conv1_conv", [("kernel", (3, 3, 2, 4), 0.0), ("bias", (4,), 100.0)]),
    ("conv1_bn", [("gamma", (4,), 1.0), ("beta", (4,), 2.0), ("moving_mean", (4,), 3.0), ("moving_variance", (4,), 4.0)]),
    ("conv1_relu", []),
]


def values(shape, start, dtype=np.float32):
    return (np.arange(int(np.prod(shape)), dtype=np.float64) * 0.25 + start).astype(dtype).reshape(shape)


def fixed(names):
    """Fixed-length byte strings (numpy 'S'), as Keras 2 with h5py 2 wrote and keras.applications files hold."""
    return np.array([n.encode("utf8") for n in names]) if names else []


def write_layers(group, layers, suffix, strings, dtype=np.float32):
    """One group per layer, attribute weight_names, datasets at <layer>/<layer>/<weight><suffix>.

    `strings` turns a list of names into the attribute value; an empty list is
    stored as h5py stores `[]` (an empty float64 array), as Keras does.
    """
    group.attrs["layer_names"] = strings([name for name, _ in layers])
    for name, weights in layers:
        g = group.create_group(name)
        names = [f"{name}/{w}{suffix}" for w, _, _ in weights]
        g.attrs["weight_names"] = strings(names) if names else []
        for full, (_, shape, start) in zip(names, weights):
            g.create_dataset(full, data=values(shape, start, dtype), track_times=False)


def path(name):
    return os.path.join(OUT, name)


def main():
    os.makedirs(OUT, exist_ok=True)

    # Keras 2: ':0' names, fixed-length strings.
    with h5py.File(path("keras2.h5"), "w") as f:
        write_layers(f, LAYERS, ":0", fixed)
        f.attrs["backend"] = np.bytes_(b"tensorflow")
        f.attrs["keras_version"] = np.bytes_(b"2.2.4")

    # Keras 3 legacy writer: no ':0'; it passes lists of bytes, which h5py 3
    # stores as variable-length ASCII strings.
    with h5py.File(path("keras3-legacy.h5"), "w") as f:
        write_layers(f, LAYERS, "", lambda names: [n.encode("utf8") for n in names])
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"3.5.0"

    # Python str attributes: variable-length UTF-8, with a non-ASCII layer name.
    with h5py.File(path("vlen-strings.h5"), "w") as f:
        write_layers(f, [("dense_\u00fc", [("kernel", (2, 3), 5.0), ("bias", (3,), 6.0)])], ":0", list)

    # model.save('m.h5'): weights under /model_weights, plus config and optimizer state to ignore.
    with h5py.File(path("whole-model.h5"), "w") as f:
        f.attrs["model_config"] = '{"class_name": "Functional", "config": {}}'
        f.attrs["keras_version"] = b"2.15.0"
        f.attrs["backend"] = b"tensorflow"
        write_layers(f.create_group("model_weights"), LAYERS, ":0", fixed)
        f.create_group("optimizer_weights").create_dataset("iterations:0", data=np.int64(7), track_times=False)

    # A 512-byte user block before the superblock: the signature is at byte 512.
    with h5py.File(path("user-block.h5"), "w", userblock_size=512) as f:
        write_layers(f, [("dense", [("kernel", (2, 2), 0.0)])], ":0", fixed)

    # Malformed files, each refused with one line.
    with open(path("not-hdf5.h5"), "w") as f:
        f.write("this is a text file, not HDF5\n")
    with h5py.File(path("no-layer-names.h5"), "w") as f:
        f.create_group("dense").create_dataset("kernel:0", data=values((2, 2), 0), track_times=False)
    with h5py.File(path("layer-names-not-strings.h5"), "w") as f:
        f.attrs["layer_names"] = np.array([1, 2, 3], dtype=np.int32)
    with h5py.File(path("missing-layer-group.h5"), "w") as f:
        write_layers(f, [("dense", [("kernel", (2, 2), 0.0)])], ":0", fixed)
        f.attrs["layer_names"] = fixed(["dense", "ghost"])
    with h5py.File(path("missing-dataset.h5"), "w") as f:
        write_layers(f, [("dense", [("kernel", (2, 2), 0.0)])], ":0", fixed)
        f["dense"].attrs["weight_names"] = fixed(["dense/kernel:0", "dense/bias:0"])
    for name, dtype in [("float64", np.float64), ("float16", np.float16), ("int32", np.int32)]:
        with h5py.File(path(f"{name}-dataset.h5"), "w") as f:
            write_layers(f, [("dense", [("kernel", (2, 2), 0.0)])], ":0", fixed, dtype)
    with h5py.File(path("null-dataspace.h5"), "w") as f:
        f.attrs["layer_names"] = fixed(["dense"])
        g = f.create_group("dense")
        g.attrs["weight_names"] = fixed(["dense/kernel:0"])
        g.create_dataset("dense/kernel:0", data=h5py.Empty("<f4"), track_times=False)
    # Shapes a reader must refuse before allocating: 2^33 values, and a product
    # that overflows 64 bits. Never written, so the files stay small.
    for name, shape, chunks in [("huge-shape.h5", (65536, 65536, 2), None), ("overflowing-shape.h5", (2**40, 2**40), (1, 1))]:
        with h5py.File(path(name), "w") as f:
            f.attrs["layer_names"] = fixed(["dense"])
            g = f.create_group("dense")
            g.attrs["weight_names"] = fixed(["dense/kernel:0"])
            g.create_dataset("dense/kernel:0", shape=shape, dtype="<f4", chunks=chunks, track_times=False)


if __name__ == "__main__":
    main()
